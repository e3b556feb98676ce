"""``manage.py load_catalog [PATH]``: the shipped catalog, custom files, updates, every refusal."""

import datetime as dt
import io
import json
from collections import defaultdict
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from wagtail.models import Page

from b2b.models import ContractCourseware, ContractPage, OrganizationPage
from courses.catalog import DEFAULT_CATALOG_PATH
from courses.models import Course, CourseRun, Program, ProgramRequirement
from ecommerce.models import Discount, Product
from tests.conftest import Output
from tests.factories import program_with

pytestmark = pytest.mark.django_db

SHARED_CATALOG = Path("/work/shared/data/catalog.json")
UTC = dt.UTC


def load(*args: str) -> Output:
    out, err = io.StringIO(), io.StringIO()
    call_command("load_catalog", *args, stdout=out, stderr=err)
    return Output(out.getvalue(), err.getvalue())


def summary(courses: tuple, runs: tuple, programs: tuple) -> str:
    """The three result lines: (created, updated, unchanged) for each kind."""
    lines = []
    for label, (created, updated, unchanged) in (
        ("courses", courses),
        ("course runs", runs),
        ("programs", programs),
    ):
        lines.append(f"{label}: {created} created, {updated} updated, {unchanged} unchanged\n")
    return "".join(lines)


def catalog_counts() -> dict[str, int]:
    return {
        "courses": Course.objects.count(),
        "runs": CourseRun.objects.count(),
        "programs": Program.objects.count(),
        "requirements": ProgramRequirement.objects.count(),
    }


def catalog_state() -> dict[str, list]:
    """Every catalog row with every column: equal before and after means nothing was written."""
    return {
        "courses": list(Course.objects.order_by("pk").values()),
        "runs": list(CourseRun.objects.order_by("pk").values()),
        "programs": list(Program.objects.order_by("pk").values()),
        "requirements": list(ProgramRequirement.objects.order_by("pk").values()),
    }


def requirement_tree(program: Program) -> list[tuple]:
    """The stored tree as [(operator, min_required, title, [(leaf type, readable id), ...]), ...].

    Also checks the shape: one all-of root, operator groups under it, leaves without children,
    and no node outside that shape.
    """
    nodes = list(
        ProgramRequirement.objects.filter(program=program).select_related(
            "course", "required_program"
        )
    )
    children = defaultdict(list)
    for node in nodes:
        children[node.parent_id].append(node)
    for siblings in children.values():
        siblings.sort(key=lambda n: (n.position, n.pk))
    (root,) = children[None]
    assert (
        root.node_type,
        root.operator,
        root.min_required,
        root.course,
        root.required_program,
    ) == (
        "operator",
        "all-of",
        None,
        None,
        None,
    )
    groups = []
    leaf_count = 0
    for group in children[root.pk]:
        assert group.node_type == "operator"
        leaves = []
        for leaf in children[group.pk]:
            assert children[leaf.pk] == []
            assert leaf.operator == ""
            if leaf.node_type == "course":
                assert leaf.required_program is None
                leaves.append(("course", leaf.course.readable_id))
            else:
                assert (leaf.node_type, leaf.course) == ("program", None)
                leaves.append(("program", leaf.required_program.readable_id))
        leaf_count += len(leaves)
        groups.append((group.operator, group.min_required, group.title, leaves))
    assert len(nodes) == 1 + len(groups) + leaf_count
    return groups


def write(tmp_path: Path, data, name: str = "catalog.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")
    return path


# -- the shipped catalog ---------------------------------------------------------------------


def expected_tree(entry: dict) -> list[tuple]:
    """What the catalog file says a program's tree is (groups in file order)."""

    def leaf(readable_id: str) -> tuple[str, str]:
        return ("program" if readable_id.startswith("program-v1:") else "course", readable_id)

    requirements = entry.get("requirements", {})
    groups = []
    if requirements.get("required"):
        groups.append(
            ("all-of", None, "Required courses", [leaf(i) for i in requirements["required"]])
        )
    electives = requirements.get("electives", [])
    for group in [electives] if isinstance(electives, dict) else electives:
        groups.append(
            (
                "min-of",
                group["min"],
                group.get("title") or "Elective courses",
                [leaf(i) for i in group["courses"]],
            )
        )
    return groups


def test_shipped_catalog_is_the_shared_catalog():
    assert DEFAULT_CATALOG_PATH.read_bytes() == SHARED_CATALOG.read_bytes()


def test_load_without_path_loads_the_shipped_catalog():
    # given an empty catalog and the shared catalog file
    data = json.loads(SHARED_CATALOG.read_text(encoding="utf-8"))
    pages_before = Page.objects.count()
    run_count = sum(len(entry["runs"]) for entry in data["courses"])
    assert (len(data["courses"]), run_count, len(data["programs"])) == (51, 113, 7)

    # when load_catalog runs without a path
    out = load()

    # then every course, run and program of the file is loaded, and the counts are reported
    assert out.stdout == summary((51, 0, 0), (164, 0, 0), (7, 0, 0))
    assert out.stderr == f"Loaded {DEFAULT_CATALOG_PATH}.\n"
    assert sorted(Course.objects.values_list("readable_id", "title", "live")) == sorted(
        (entry["readable_id"], entry["title"], True) for entry in data["courses"]
    )
    expected_runs = set()
    for entry in data["courses"]:
        for run in entry["runs"]:
            expected_runs.add(
                (
                    entry["readable_id"],
                    run["courseware_id"],
                    run["run_tag"],
                    entry["title"],
                    True,
                    False,
                    False,
                    None,
                    None,
                    None,
                    None,
                    False,
                    None,
                )
            )
        source = entry["source_run"]
        assert source["run_tag"] == "SOURCE"
        expected_runs.add(
            (
                entry["readable_id"],
                source["courseware_id"],
                "SOURCE",
                entry["title"],
                False,
                True,
                True,
                None,
                None,
                None,
                None,
                False,
                None,
            )
        )
    stored_runs = set(
        CourseRun.objects.values_list(
            "course__readable_id",
            "courseware_id",
            "run_tag",
            "title",
            "live",
            "is_self_paced",
            "is_source_run",
            "start_date",
            "end_date",
            "enrollment_start",
            "enrollment_end",
            "is_b2b",
            "b2b_contract",
        )
    )
    assert CourseRun.objects.count() == 164
    assert stored_runs == expected_runs
    # each course has exactly one source run, the file's
    for entry in data["courses"]:
        source = CourseRun.objects.get(course__readable_id=entry["readable_id"], is_source_run=True)
        assert source.courseware_id == entry["source_run"]["courseware_id"]

    assert sorted(Program.objects.values_list("readable_id", "title", "live")) == sorted(
        (entry["readable_id"], entry["title"], True) for entry in data["programs"]
    )
    for entry in data["programs"]:
        program = Program.objects.get(readable_id=entry["readable_id"])
        assert requirement_tree(program) == expected_tree(entry)
    # the DEDP tree, spelled out
    assert requirement_tree(Program.objects.get(readable_id="program-v1:MITx+DEDP")) == [
        (
            "all-of",
            None,
            "Required courses",
            [
                ("course", "course-v1:MITxT+14.100x"),
                ("course", "course-v1:MITxT+JPAL102x"),
                ("course", "course-v1:MITxT+14.310x"),
            ],
        ),
        (
            "min-of",
            2,
            "Elective courses",
            [
                ("course", "course-v1:MITxT+14.740x"),
                ("course", "course-v1:MITxT+14.750x"),
                ("course", "course-v1:MITxT+14.73x"),
            ],
        ),
    ]

    # and no organization, contract, product, code or page was made (SPEC §3)
    assert OrganizationPage.objects.count() == 0
    assert ContractPage.objects.count() == 0
    assert ContractCourseware.objects.count() == 0
    assert Product.objects.count() == 0
    assert Discount.objects.count() == 0
    assert Page.objects.count() == pages_before


def test_loading_the_shipped_catalog_twice_changes_nothing():
    # given the shipped catalog, loaded
    load()
    before = catalog_state()

    # when it is loaded again
    out = load()

    # then everything is reported unchanged and no row moved (requirement nodes kept, not rebuilt)
    assert out.stdout == summary((0, 0, 51), (0, 0, 164), (0, 0, 7))
    assert catalog_state() == before
    assert catalog_counts() == {
        "courses": 51,
        "runs": 164,
        "programs": 7,
        "requirements": 53,
    }


def test_explicit_path_to_the_shared_catalog_loads_the_same(tmp_path):
    out = load(str(SHARED_CATALOG))

    assert out.stdout == summary((51, 0, 0), (164, 0, 0), (7, 0, 0))
    assert out.stderr == f"Loaded {SHARED_CATALOG}.\n"


# -- a custom catalog ------------------------------------------------------------------------


def custom_catalog() -> dict:
    """Three courses, five runs, three programs: a nested program in "required" and in electives."""
    return {
        "format": "catalog/1",
        "about": "test catalog",
        "courses": [
            {
                "readable_id": "course-v1:TestX+A1",
                "title": "Course A",
                "source_run": {"courseware_id": "course-v1:TestX+A1+SOURCE", "run_tag": "SOURCE"},
                "runs": [
                    {"courseware_id": "course-v1:TestX+A1+1T2024", "run_tag": "1T2024"},
                    {"courseware_id": "course-v1:TestX+A1+2T2024"},
                ],
                "provenance": "made up for the test",
            },
            {
                "readable_id": "course-v1:TestX+B1",
                "title": "Course B",
                "source_run": {"courseware_id": "course-v1:TestX+B1+SOURCE"},
                "runs": [
                    {
                        "courseware_id": "course-v1:TestX+B1+1T2024",
                        "run_tag": "1T2024",
                        "title": "Course B, spring",
                        "start_date": "2024-02-01T00:00:00Z",
                        "end_date": "2024-05-31T23:59:59Z",
                        "enrollment_start": "2024-01-01T00:00:00+02:00",
                        "enrollment_end": "2024-02-15T12:00:00",
                        "live": False,
                        "is_self_paced": True,
                    }
                ],
            },
            {"readable_id": "course-v1:TestX+C1", "title": "Course C"},
        ],
        "programs": [
            {
                "readable_id": "program-v1:TestX+OUTER",
                "title": "Outer program",
                "requirements": {
                    "required": ["course-v1:TestX+A1", "program-v1:TestX+INNER"],
                    "electives": [
                        {
                            "min": 1,
                            "courses": ["course-v1:TestX+B1", "program-v1:TestX+ELECTIVE"],
                            "title": "Pick one",
                        },
                        {"min": 1, "courses": ["course-v1:TestX+C1"]},
                    ],
                },
            },
            {
                "readable_id": "program-v1:TestX+INNER",
                "title": "Inner program",
                "requirements": {"required": ["course-v1:TestX+C1"]},
            },
            {
                "readable_id": "program-v1:TestX+ELECTIVE",
                "title": "Elective program",
                "requirements": {
                    "required": ["course-v1:TestX+B1"],
                    "electives": {"min": 1, "courses": ["course-v1:TestX+A1"]},
                },
            },
        ],
    }


CUSTOM_COUNTS = {"courses": 3, "runs": 5, "programs": 3, "requirements": 17}


def run_row(courseware_id: str) -> tuple:
    run = CourseRun.objects.get(courseware_id=courseware_id)
    return (
        run.course.readable_id,
        run.run_tag,
        run.title,
        run.live,
        run.is_self_paced,
        run.is_source_run,
        run.start_date,
        run.end_date,
        run.enrollment_start,
        run.enrollment_end,
        run.is_b2b,
        run.b2b_contract_id,
    )


def test_custom_catalog_with_nested_programs(tmp_path):
    # given a catalog file with programs nested in "required" and in an elective group
    path = write(tmp_path, custom_catalog())

    # when it is loaded
    out = load(str(path))

    # then
    assert out.stdout == summary((3, 0, 0), (5, 0, 0), (3, 0, 0))
    assert out.stderr == f"Loaded {path}.\n"
    assert catalog_counts() == CUSTOM_COUNTS
    assert list(Course.objects.values_list("readable_id", "title")) == [
        ("course-v1:TestX+A1", "Course A"),
        ("course-v1:TestX+B1", "Course B"),
        ("course-v1:TestX+C1", "Course C"),
    ]
    assert run_row("course-v1:TestX+A1+SOURCE") == (
        "course-v1:TestX+A1",
        "SOURCE",
        "Course A",
        False,
        True,
        True,
        None,
        None,
        None,
        None,
        False,
        None,
    )
    # run_tag defaults to the run part of the key, title to the course's; runs are live by default
    assert run_row("course-v1:TestX+A1+2T2024") == (
        "course-v1:TestX+A1",
        "2T2024",
        "Course A",
        True,
        False,
        False,
        None,
        None,
        None,
        None,
        False,
        None,
    )
    assert run_row("course-v1:TestX+B1+SOURCE")[1:6] == ("SOURCE", "Course B", False, True, True)
    # explicit fields; a naive date-time is read in TIME_ZONE (UTC here)
    assert run_row("course-v1:TestX+B1+1T2024") == (
        "course-v1:TestX+B1",
        "1T2024",
        "Course B, spring",
        False,
        True,
        False,
        dt.datetime(2024, 2, 1, tzinfo=UTC),
        dt.datetime(2024, 5, 31, 23, 59, 59, tzinfo=UTC),
        dt.datetime(2023, 12, 31, 22, 0, tzinfo=UTC),
        dt.datetime(2024, 2, 15, 12, 0, tzinfo=UTC),
        False,
        None,
    )
    assert CourseRun.objects.filter(course__readable_id="course-v1:TestX+C1").count() == 0

    assert requirement_tree(Program.objects.get(readable_id="program-v1:TestX+OUTER")) == [
        (
            "all-of",
            None,
            "Required courses",
            [
                ("course", "course-v1:TestX+A1"),
                ("program", "program-v1:TestX+INNER"),
            ],
        ),
        (
            "min-of",
            1,
            "Pick one",
            [
                ("course", "course-v1:TestX+B1"),
                ("program", "program-v1:TestX+ELECTIVE"),
            ],
        ),
        ("min-of", 1, "Elective courses", [("course", "course-v1:TestX+C1")]),
    ]
    assert requirement_tree(Program.objects.get(readable_id="program-v1:TestX+INNER")) == [
        ("all-of", None, "Required courses", [("course", "course-v1:TestX+C1")]),
    ]
    assert requirement_tree(Program.objects.get(readable_id="program-v1:TestX+ELECTIVE")) == [
        ("all-of", None, "Required courses", [("course", "course-v1:TestX+B1")]),
        ("min-of", 1, "Elective courses", [("course", "course-v1:TestX+A1")]),
    ]
    assert OrganizationPage.objects.count() == 0
    assert ContractPage.objects.count() == 0


def test_naive_dates_are_read_in_the_time_zone_setting(tmp_path, settings):
    # given TIME_ZONE set to New York (UTC-5 in February)
    settings.TIME_ZONE = "America/New_York"
    path = write(tmp_path, custom_catalog())

    # when
    load(str(path))

    # then the naive enrollment end is 12:00 in New York; explicit offsets are kept
    run = CourseRun.objects.get(courseware_id="course-v1:TestX+B1+1T2024")
    assert run.enrollment_end == dt.datetime(2024, 2, 15, 17, 0, tzinfo=UTC)
    assert run.enrollment_start == dt.datetime(2023, 12, 31, 22, 0, tzinfo=UTC)


def test_a_program_without_requirements_gets_an_empty_root(tmp_path):
    data = {
        "format": "catalog/1",
        "programs": [{"readable_id": "program-v1:TestX+EMPTY", "title": "Empty"}],
    }
    path = write(tmp_path, data)

    assert load(str(path)).stdout == summary((0, 0, 0), (0, 0, 0), (1, 0, 0))
    assert requirement_tree(Program.objects.get()) == []
    assert load(str(path)).stdout == summary((0, 0, 0), (0, 0, 0), (0, 0, 1))
    assert ProgramRequirement.objects.count() == 1


def test_custom_catalog_loaded_twice_is_unchanged(tmp_path):
    path = write(tmp_path, custom_catalog())
    load(str(path))
    before = catalog_state()

    out = load(str(path))

    assert out.stdout == summary((0, 0, 3), (0, 0, 5), (0, 0, 3))
    assert catalog_state() == before


def test_changes_in_the_file_are_updates(tmp_path):
    # given the custom catalog, loaded
    load(str(write(tmp_path, custom_catalog())))
    course_c_pk = Course.objects.get(readable_id="course-v1:TestX+C1").pk
    inner_nodes = list(
        ProgramRequirement.objects.filter(program__readable_id="program-v1:TestX+INNER")
        .order_by("pk")
        .values()
    )

    # when a new version changes a course title (its untitled runs follow), a run's dates and
    # live flag, a program title and an elective minimum, adds a course and drops course C
    data = custom_catalog()
    data["courses"][0]["title"] = "Course A, revised"
    data["courses"][1]["runs"][0].update(start_date="2024-03-01T00:00:00Z", live=True)
    data["courses"][2] = {"readable_id": "course-v1:TestX+D1", "title": "Course D"}
    data["programs"][0]["title"] = "Outer program, revised"
    data["programs"][2]["requirements"]["electives"]["courses"].append("course-v1:TestX+D1")
    data["programs"][2]["requirements"]["electives"]["min"] = 2
    out = load(str(write(tmp_path, data, "v2.json")))

    # then
    assert out.stdout == summary((1, 1, 1), (0, 4, 1), (0, 2, 1))
    assert Course.objects.get(readable_id="course-v1:TestX+A1").title == "Course A, revised"
    assert list(
        CourseRun.objects.filter(course__readable_id="course-v1:TestX+A1").values_list(
            "courseware_id", "title"
        )
    ) == [
        ("course-v1:TestX+A1+1T2024", "Course A, revised"),
        ("course-v1:TestX+A1+2T2024", "Course A, revised"),
        ("course-v1:TestX+A1+SOURCE", "Course A, revised"),
    ]
    run = CourseRun.objects.get(courseware_id="course-v1:TestX+B1+1T2024")
    assert (run.start_date, run.live, run.title) == (
        dt.datetime(2024, 3, 1, tzinfo=UTC),
        True,
        "Course B, spring",
    )
    assert Program.objects.get(readable_id="program-v1:TestX+OUTER").title == (
        "Outer program, revised"
    )
    assert requirement_tree(Program.objects.get(readable_id="program-v1:TestX+ELECTIVE")) == [
        ("all-of", None, "Required courses", [("course", "course-v1:TestX+B1")]),
        (
            "min-of",
            2,
            "Elective courses",
            [
                ("course", "course-v1:TestX+A1"),
                ("course", "course-v1:TestX+D1"),
            ],
        ),
    ]
    # nothing missing from the file is deleted: course C and the trees naming it stay
    assert Course.objects.get(readable_id="course-v1:TestX+C1").pk == course_c_pk
    assert (
        list(
            ProgramRequirement.objects.filter(program__readable_id="program-v1:TestX+INNER")
            .order_by("pk")
            .values()
        )
        == inner_nodes
    )
    assert catalog_counts() == {"courses": 4, "runs": 5, "programs": 3, "requirements": 18}


def test_a_program_may_require_a_course_only_in_the_database(tmp_path):
    # given course C loaded earlier
    load(str(write(tmp_path, custom_catalog())))

    # when a file names C in a program without listing it
    data = {
        "format": "catalog/1",
        "programs": [
            {
                "readable_id": "program-v1:TestX+LATER",
                "title": "Later",
                "requirements": {"required": ["course-v1:TestX+C1", "program-v1:TestX+INNER"]},
            }
        ],
    }
    out = load(str(write(tmp_path, data, "later.json")))

    # then
    assert out.stdout == summary((0, 0, 0), (0, 0, 0), (1, 0, 0))
    assert requirement_tree(Program.objects.get(readable_id="program-v1:TestX+LATER")) == [
        (
            "all-of",
            None,
            "Required courses",
            [
                ("course", "course-v1:TestX+C1"),
                ("program", "program-v1:TestX+INNER"),
            ],
        ),
    ]


def test_moving_the_source_run_to_a_new_key(tmp_path):
    # given course A loaded with source run ...+SOURCE
    load(str(write(tmp_path, custom_catalog())))
    old_source = CourseRun.objects.get(courseware_id="course-v1:TestX+A1+SOURCE")

    # when the file names a new source run key
    data = custom_catalog()
    data["courses"][0]["source_run"] = {
        "courseware_id": "course-v1:TestX+A1+SOURCE_2026",
        "run_tag": "SOURCE_2026",
    }
    out = load(str(write(tmp_path, data, "moved.json")))

    # then the new run is the one source run; the old one stays, unflagged and not live
    assert out.stdout == summary((0, 0, 3), (1, 0, 4), (0, 0, 3))
    assert list(
        CourseRun.objects.filter(
            course__readable_id="course-v1:TestX+A1", is_source_run=True
        ).values_list("courseware_id", "run_tag", "live", "is_self_paced")
    ) == [("course-v1:TestX+A1+SOURCE_2026", "SOURCE_2026", False, True)]
    old_source.refresh_from_db()
    assert (old_source.is_source_run, old_source.live, old_source.run_tag) == (
        False,
        False,
        "SOURCE",
    )
    assert CourseRun.objects.count() == 6


def test_swapping_the_source_run_with_a_listed_run(tmp_path):
    # given course A loaded with source ...+SOURCE and run ...+1T2024
    load(str(write(tmp_path, custom_catalog())))

    # when the file makes 1T2024 the source run and lists SOURCE as an ordinary run
    data = custom_catalog()
    data["courses"][0]["source_run"] = {"courseware_id": "course-v1:TestX+A1+1T2024"}
    data["courses"][0]["runs"] = [
        {"courseware_id": "course-v1:TestX+A1+SOURCE"},
        {"courseware_id": "course-v1:TestX+A1+2T2024"},
    ]
    out = load(str(write(tmp_path, data, "swapped.json")))

    # then the flag moved without breaking the one-source-run-per-course constraint
    assert out.stdout == summary((0, 0, 3), (0, 2, 3), (0, 0, 3))
    assert list(
        CourseRun.objects.filter(course__readable_id="course-v1:TestX+A1").values_list(
            "courseware_id", "is_source_run", "live", "is_self_paced"
        )
    ) == [
        ("course-v1:TestX+A1+1T2024", True, False, True),
        ("course-v1:TestX+A1+2T2024", False, True, False),
        ("course-v1:TestX+A1+SOURCE", False, True, False),
    ]


def test_a_course_without_source_run_in_the_file_keeps_its_stored_one(tmp_path):
    load(str(write(tmp_path, custom_catalog())))
    data = custom_catalog()
    del data["courses"][0]["source_run"]

    out = load(str(write(tmp_path, data, "nosource.json")))

    assert out.stdout == summary((0, 0, 3), (0, 0, 4), (0, 0, 3))
    assert (
        CourseRun.objects.get(
            course__readable_id="course-v1:TestX+A1", is_source_run=True
        ).courseware_id
        == "course-v1:TestX+A1+SOURCE"
    )


# -- refusals --------------------------------------------------------------------------------


@pytest.fixture
def loaded(tmp_path):
    """The custom catalog, loaded: refusals must leave it exactly as it is."""
    load(str(write(tmp_path, custom_catalog(), "base.json")))
    assert catalog_counts() == CUSTOM_COUNTS
    return catalog_state()


def refused(path: Path, loaded_state: dict) -> str:
    """Load ``path``, expect a refusal, check nothing was written; return the message."""
    with pytest.raises(CommandError) as excinfo:
        load(str(path))
    assert excinfo.value.returncode == 1
    assert catalog_counts() == CUSTOM_COUNTS
    assert catalog_state() == loaded_state
    return str(excinfo.value)


def with_changes(**changes) -> dict:
    """The custom catalog with a title change and a new course first (so a partial write would
    show), then whatever the test breaks."""
    data = custom_catalog()
    data["courses"][0]["title"] = "Course A, changed"
    data["courses"].insert(0, {"readable_id": "course-v1:TestX+NEW1", "title": "New course"})
    data.update(changes)
    return data


def test_refuses_a_missing_file(tmp_path, loaded):
    path = tmp_path / "nope.json"

    assert refused(path, loaded) == (
        f"No catalog file at {path}: give the path of a catalog JSON file."
    )


def test_refuses_a_directory(tmp_path, loaded):
    assert refused(tmp_path, loaded) == (
        f"Cannot read the catalog file {tmp_path}: Is a directory."
    )


def test_refuses_a_file_that_is_not_utf8(tmp_path, loaded):
    path = tmp_path / "latin1.json"
    path.write_bytes('{"format": "catalog/1", "about": "café"}'.encode("latin-1"))

    assert refused(path, loaded) == (
        f"{path} is not UTF-8 text (invalid continuation byte at byte 37): save it as UTF-8."
    )


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('{"format": "catalog/1",\n  "courses": [}\n', "line 2, column 15: Expecting value"),
        (
            '{"format": "catalog/1",\n  "courses": [],\n}\n',
            "line 3, column 1: Expecting property name enclosed in double quotes",
        ),
        ("", "line 1, column 1: Expecting value"),
    ],
)
def test_refuses_invalid_json_naming_line_and_column(tmp_path, loaded, text, where):
    path = tmp_path / "broken.json"
    path.write_text(text, encoding="utf-8")

    assert refused(path, loaded) == f"{path} is not valid JSON ({where})."


@pytest.mark.parametrize(
    "document",
    [
        {"format": "catalog/2", "courses": []},
        {"courses": []},
        {"format": None},
        [{"format": "catalog/1"}],
        "catalog/1",
    ],
)
def test_refuses_a_file_of_another_format(tmp_path, loaded, document):
    path = write(tmp_path, document, "other.json")

    assert refused(path, loaded) == (
        f'{path} is not a catalog file: it must be a JSON object with "format": "catalog/1" '
        "(see docs/catalog-format.md)."
    )


@pytest.mark.parametrize("key", ["courses", "programs"])
def test_refuses_courses_or_programs_that_are_not_lists(tmp_path, loaded, key):
    path = write(tmp_path, with_changes(**{key: {"a": 1}}), "notlist.json")

    assert refused(path, loaded) == f'{path}: "{key}" must be a list.'


def course_entry_error(tmp_path, loaded, entry: dict) -> str:
    data = with_changes()
    data["courses"].append(entry)
    return refused(write(tmp_path, data, "bad-course.json"), loaded)


def test_refuses_a_course_readable_id_with_a_run(tmp_path, loaded):
    entry = {"readable_id": "course-v1:TestX+E1+1T2024", "title": "E"}

    assert course_entry_error(tmp_path, loaded, entry) == (
        "course course-v1:TestX+E1+1T2024: a course readable ID is course-v1:ORG+NUMBER (no run)."
    )


def test_refuses_a_course_readable_id_that_is_a_program(tmp_path, loaded):
    entry = {"readable_id": "program-v1:TestX+E1", "title": "E"}

    assert course_entry_error(tmp_path, loaded, entry) == (
        "course program-v1:TestX+E1: a course readable ID is course-v1:ORG+NUMBER (no run)."
    )


def test_refuses_a_malformed_course_readable_id(tmp_path, loaded):
    entry = {"readable_id": "TestX/E1", "title": "E"}

    assert course_entry_error(tmp_path, loaded, entry) == (
        "course TestX/E1: 'TestX/E1' is not a valid readable ID: expected a course "
        "(course-v1:ORG+NUMBER), a course run (course-v1:ORG+NUMBER+RUN) or a program "
        "(program-v1:ORG+NAME)."
    )


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"title": "E"}, 'courses[4]: "readable_id" must be a non-empty string.'),
        (
            {"readable_id": "  ", "title": "E"},
            'courses[4]: "readable_id" must be a non-empty string.',
        ),
        (
            {"readable_id": "course-v1:TestX+E1"},
            'course course-v1:TestX+E1: "title" must be a non-empty string.',
        ),
        (
            {"readable_id": "course-v1:TestX+E1", "title": 7},
            'course course-v1:TestX+E1: "title" must be a non-empty string.',
        ),
        (
            {"readable_id": "course-v1:TestX+E1", "title": "E", "runs": {}},
            'course course-v1:TestX+E1: "runs" must be a list.',
        ),
        (
            {
                "readable_id": "course-v1:TestX+E1",
                "title": "E",
                "runs": ["course-v1:TestX+E1+1T2024"],
            },
            "course course-v1:TestX+E1, runs[0]: a run must be an object with a courseware_id.",
        ),
        (
            {"readable_id": "course-v1:TestX+E1", "title": "E", "runs": [{"run_tag": "1T2024"}]},
            'course course-v1:TestX+E1, runs[0]: "courseware_id" must be a non-empty string.',
        ),
        (
            {"readable_id": "course-v1:TestX+E1", "title": "E", "source_run": "SOURCE"},
            "course course-v1:TestX+E1, source_run: a run must be an object with a courseware_id.",
        ),
        ("not an object", "courses[4]: each course must be an object."),
    ],
)
def test_refuses_incomplete_course_entries(tmp_path, loaded, entry, message):
    assert course_entry_error(tmp_path, loaded, entry) == message


def test_refuses_a_run_key_that_is_not_a_run(tmp_path, loaded):
    entry = {
        "readable_id": "course-v1:TestX+E1",
        "title": "E",
        "runs": [{"courseware_id": "course-v1:TestX+E1"}],
    }

    assert course_entry_error(tmp_path, loaded, entry) == (
        "course course-v1:TestX+E1, runs[0]: 'course-v1:TestX+E1' is not a course run ID: "
        "expected course-v1:ORG+NUMBER+RUN, for example course-v1:MITxT+14.310x+SOURCE."
    )


def test_refuses_a_run_of_another_course(tmp_path, loaded):
    entry = {
        "readable_id": "course-v1:TestX+E1",
        "title": "E",
        "runs": [
            {"courseware_id": "course-v1:TestX+E1+1T2024"},
            {"courseware_id": "course-v1:TestX+A1+3T2024"},
        ],
    }

    assert course_entry_error(tmp_path, loaded, entry) == (
        "course course-v1:TestX+E1, runs[1]: run course-v1:TestX+A1+3T2024 does not belong to "
        "course course-v1:TestX+E1."
    )


def test_refuses_a_source_run_of_another_course(tmp_path, loaded):
    entry = {
        "readable_id": "course-v1:TestX+E1",
        "title": "E",
        "source_run": {"courseware_id": "course-v1:OtherX+E1+SOURCE"},
    }

    assert course_entry_error(tmp_path, loaded, entry) == (
        "course course-v1:TestX+E1, source_run: run course-v1:OtherX+E1+SOURCE does not belong "
        "to course course-v1:TestX+E1."
    )


def test_refuses_a_run_tag_that_differs_from_the_key(tmp_path, loaded):
    entry = {
        "readable_id": "course-v1:TestX+E1",
        "title": "E",
        "runs": [{"courseware_id": "course-v1:TestX+E1+1T2024", "run_tag": "2T2024"}],
    }

    assert course_entry_error(tmp_path, loaded, entry) == (
        "course course-v1:TestX+E1, runs[0]: \"run_tag\" '2T2024' differs from the run part of "
        "course-v1:TestX+E1+1T2024."
    )


def test_refuses_a_source_run_tag_that_differs_from_the_key(tmp_path, loaded):
    entry = {
        "readable_id": "course-v1:TestX+E1",
        "title": "E",
        "source_run": {"courseware_id": "course-v1:TestX+E1+SOURCE", "run_tag": "source"},
    }

    assert course_entry_error(tmp_path, loaded, entry) == (
        "course course-v1:TestX+E1, source_run: \"run_tag\" 'source' differs from the run part "
        "of course-v1:TestX+E1+SOURCE."
    )


def test_refuses_a_course_listed_twice(tmp_path, loaded):
    entry = {"readable_id": "course-v1:TestX+B1", "title": "B again"}

    assert course_entry_error(tmp_path, loaded, entry) == (
        "course course-v1:TestX+B1 is listed twice."
    )


def test_refuses_a_run_listed_twice(tmp_path, loaded):
    entry = {
        "readable_id": "course-v1:TestX+E1",
        "title": "E",
        "source_run": {"courseware_id": "course-v1:TestX+E1+1T2024"},
        "runs": [{"courseware_id": "course-v1:TestX+E1+1T2024"}],
    }

    assert course_entry_error(tmp_path, loaded, entry) == (
        "course course-v1:TestX+E1: a courseware ID is listed twice among its runs."
    )


@pytest.mark.parametrize(
    ("field", "value", "shown"),
    [
        ("start_date", "not a date", "'not a date'"),
        ("end_date", "2024-02-30", "'2024-02-30'"),
        ("enrollment_start", "2024-13-01T00:00:00", "'2024-13-01T00:00:00'"),
        ("enrollment_end", "2024-01-01T25:00:00Z", "'2024-01-01T25:00:00Z'"),
        ("start_date", 20240101, "20240101"),
        ("end_date", "", "''"),
    ],
)
def test_refuses_a_bad_date(tmp_path, loaded, field, value, shown):
    entry = {
        "readable_id": "course-v1:TestX+E1",
        "title": "E",
        "runs": [{"courseware_id": "course-v1:TestX+E1+1T2024", field: value}],
    }

    assert course_entry_error(tmp_path, loaded, entry) == (
        f'course course-v1:TestX+E1, runs[0]: "{field}" must be an ISO 8601 date-time, got {shown}.'
    )


@pytest.mark.parametrize("field", ["live", "is_self_paced"])
def test_refuses_a_flag_that_is_not_a_boolean(tmp_path, loaded, field):
    entry = {
        "readable_id": "course-v1:TestX+E1",
        "title": "E",
        "runs": [{"courseware_id": "course-v1:TestX+E1+1T2024", field: "yes"}],
    }

    assert course_entry_error(tmp_path, loaded, entry) == (
        f'course course-v1:TestX+E1, runs[0]: "{field}" must be true or false.'
    )


def program_entry_error(tmp_path, loaded, *entries: dict) -> str:
    data = with_changes()
    data["programs"].extend(entries)
    return refused(write(tmp_path, data, "bad-program.json"), loaded)


def test_refuses_a_program_requiring_an_unknown_course(tmp_path, loaded):
    entry = {
        "readable_id": "program-v1:TestX+P",
        "title": "P",
        "requirements": {"required": ["course-v1:TestX+A1", "course-v1:TestX+Z9"]},
    }

    assert program_entry_error(tmp_path, loaded, entry) == (
        "program program-v1:TestX+P requires course-v1:TestX+Z9, which is neither in the file "
        'nor in the database: add the course to "courses".'
    )


def test_refuses_a_program_electing_an_unknown_course(tmp_path, loaded):
    entry = {
        "readable_id": "program-v1:TestX+P",
        "title": "P",
        "requirements": {"electives": {"min": 1, "courses": ["course-v1:TestX+Z9"]}},
    }

    assert program_entry_error(tmp_path, loaded, entry) == (
        "program program-v1:TestX+P requires course-v1:TestX+Z9, which is neither in the file "
        'nor in the database: add the course to "courses".'
    )


def test_refuses_a_program_requiring_an_unknown_program(tmp_path, loaded):
    entry = {
        "readable_id": "program-v1:TestX+P",
        "title": "P",
        "requirements": {"required": ["program-v1:TestX+NOPE"]},
    }

    assert program_entry_error(tmp_path, loaded, entry) == (
        "program program-v1:TestX+P requires program-v1:TestX+NOPE, which is neither in the "
        "file nor in the database."
    )


def test_refuses_programs_requiring_each_other(tmp_path, loaded):
    a = {
        "readable_id": "program-v1:TestX+PA",
        "title": "A",
        "requirements": {"required": ["course-v1:TestX+A1", "program-v1:TestX+PB"]},
    }
    b = {
        "readable_id": "program-v1:TestX+PB",
        "title": "B",
        "requirements": {"electives": {"min": 1, "courses": ["program-v1:TestX+PA"]}},
    }

    assert program_entry_error(tmp_path, loaded, a, b) == (
        "Programs require each other in a cycle: program-v1:TestX+PA → program-v1:TestX+PB → "
        "program-v1:TestX+PA."
    )


def test_refuses_a_program_requiring_itself(tmp_path, loaded):
    a = {
        "readable_id": "program-v1:TestX+PA",
        "title": "A",
        "requirements": {"required": ["program-v1:TestX+PA"]},
    }

    assert program_entry_error(tmp_path, loaded, a) == (
        "Programs require each other in a cycle: program-v1:TestX+PA → program-v1:TestX+PA."
    )


def test_refuses_a_cycle_closed_through_a_stored_program(tmp_path, loaded):
    # given INNER stored, required by OUTER (also stored)
    # when a file redefines INNER to require OUTER, without listing OUTER
    data = {
        "format": "catalog/1",
        "programs": [
            {
                "readable_id": "program-v1:TestX+INNER",
                "title": "Inner program",
                "requirements": {"required": ["program-v1:TestX+OUTER"]},
            },
        ],
    }

    # then the cycle through the stored OUTER is found
    assert refused(write(tmp_path, data, "cycle-db.json"), loaded) == (
        "Programs require each other in a cycle: program-v1:TestX+INNER → "
        "program-v1:TestX+OUTER → program-v1:TestX+INNER."
    )


def test_a_cycle_stored_in_the_database_does_not_block_unrelated_loads(tmp_path, loaded):
    # given two stored programs that require each other (made directly in the database)
    a = Program.objects.create(readable_id="program-v1:TestX+DBA", title="DB A")
    b = program_with("program-v1:TestX+DBB", "DB B", required=[a])
    root = ProgramRequirement.objects.create(program=a, node_type="operator", operator="all-of")
    ProgramRequirement.objects.create(
        program=a, parent=root, node_type="program", required_program=b
    )

    # when the custom catalog is loaded again
    out = load(str(write(tmp_path, custom_catalog(), "again.json")))

    # then it loads, unchanged
    assert out.stdout == summary((0, 0, 3), (0, 0, 5), (0, 0, 3))


@pytest.mark.parametrize(
    ("electives", "message"),
    [
        (
            {"min": 0, "courses": ["course-v1:TestX+A1", "course-v1:TestX+B1"]},
            'elective group 1 needs "min" between 1 and 2.',
        ),
        (
            {"min": 3, "courses": ["course-v1:TestX+A1", "course-v1:TestX+B1"]},
            'elective group 1 needs "min" between 1 and 2.',
        ),
        (
            {"min": -1, "courses": ["course-v1:TestX+A1"]},
            'elective group 1 needs "min" between 1 and 1.',
        ),
        (
            {"min": "1", "courses": ["course-v1:TestX+A1"]},
            'elective group 1 needs "min" between 1 and 1.',
        ),
        (
            {"min": True, "courses": ["course-v1:TestX+A1"]},
            'elective group 1 needs "min" between 1 and 1.',
        ),
        (
            {"min": 1.0, "courses": ["course-v1:TestX+A1"]},
            'elective group 1 needs "min" between 1 and 1.',
        ),
        ({"courses": ["course-v1:TestX+A1"]}, 'elective group 1 needs "min" between 1 and 1.'),
        (
            [
                {"min": 1, "courses": ["course-v1:TestX+A1"]},
                {
                    "min": 2,
                    "courses": ["course-v1:TestX+A1", "course-v1:TestX+B1", "course-v1:TestX+C1"],
                    "title": "Second",
                },
                {
                    "min": 4,
                    "courses": ["course-v1:TestX+A1", "course-v1:TestX+B1", "course-v1:TestX+C1"],
                },
            ],
            'elective group 3 needs "min" between 1 and 3.',
        ),
        ({"min": 1, "courses": []}, 'elective group 1 needs a "courses" list.'),
        ({"min": 1}, 'elective group 1 needs a "courses" list.'),
        ({"min": 1, "courses": "course-v1:TestX+A1"}, 'elective group 1 needs a "courses" list.'),
        ({"min": 1, "courses": [7]}, 'elective group 1 needs a "courses" list.'),
        (["course-v1:TestX+A1"], 'elective group 1 needs a "courses" list.'),
        ("course-v1:TestX+A1", '"electives" must be an object or a list of objects.'),
    ],
)
def test_refuses_a_bad_elective_group(tmp_path, loaded, electives, message):
    entry = {
        "readable_id": "program-v1:TestX+P",
        "title": "P",
        "requirements": {"required": ["course-v1:TestX+C1"], "electives": electives},
    }

    assert program_entry_error(tmp_path, loaded, entry) == f"program program-v1:TestX+P: {message}"


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            {"readable_id": "course-v1:TestX+P", "title": "P"},
            "program course-v1:TestX+P: program readable IDs look like program-v1:ORG+NAME.",
        ),
        (
            {"readable_id": "program-v1:P", "title": "P"},
            "program program-v1:P: program readable IDs look like program-v1:ORG+NAME.",
        ),
        (
            {"readable_id": "program-v1:TestX+INNER", "title": "Twice"},
            "program program-v1:TestX+INNER is listed twice.",
        ),
        (
            {"readable_id": "program-v1:TestX+P"},
            'program program-v1:TestX+P: "title" must be a non-empty string.',
        ),
        ({"title": "P"}, 'programs[3]: "readable_id" must be a non-empty string.'),
        (["program-v1:TestX+P"], "programs[3]: each program must be an object."),
        (
            {"readable_id": "program-v1:TestX+P", "title": "P", "requirements": []},
            'program program-v1:TestX+P: "requirements" must be an object.',
        ),
        (
            {
                "readable_id": "program-v1:TestX+P",
                "title": "P",
                "requirements": {"required": [], "optional": [], "core": []},
            },
            "program program-v1:TestX+P: unknown requirement keys ['core', 'optional']; "
            'use "required" and "electives".',
        ),
        (
            {
                "readable_id": "program-v1:TestX+P",
                "title": "P",
                "requirements": {"required": "course-v1:TestX+A1"},
            },
            'program program-v1:TestX+P: "required" must be a list of readable IDs.',
        ),
        (
            {
                "readable_id": "program-v1:TestX+P",
                "title": "P",
                "requirements": {"required": [{"id": "course-v1:TestX+A1"}]},
            },
            'program program-v1:TestX+P: "required" must be a list of readable IDs.',
        ),
    ],
)
def test_refuses_bad_program_entries(tmp_path, loaded, entry, message):
    assert program_entry_error(tmp_path, loaded, entry) == message


def test_load_catalog_rejects_extra_arguments():
    # argparse refuses a malformed command line (exit 2 from the shell; CommandError here)
    with pytest.raises(CommandError) as excinfo:
        load("a.json", "b.json")

    assert str(excinfo.value) == "Error: unrecognized arguments: b.json"
    assert catalog_counts() == {"courses": 0, "runs": 0, "programs": 0, "requirements": 0}


def test_with_changes_really_changes_something(tmp_path, loaded):
    # the refusal tests add a title change and a new course before the error: a loader that
    # wrote as it went would show them. Without an error they are written.
    out = load(str(write(tmp_path, with_changes(), "ok.json")))

    assert out.stdout == summary((1, 1, 2), (0, 3, 2), (0, 0, 3))
    assert catalog_counts() == {**CUSTOM_COUNTS, "courses": 4}


def test_the_documented_example_loads(tmp_path):
    # given the example of docs/catalog-format.md
    doc = (Path(__file__).resolve().parents[2] / "docs" / "catalog-format.md").read_text()
    example = doc.split("```json\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "example.json"
    path.write_text(example, encoding="utf-8")

    # when it is loaded
    out = load(str(path))

    # then it is what the document says
    assert out.stdout == summary((3, 0, 0), (3, 0, 0), (2, 0, 0))
    assert run_row("course-v1:MITxT+14.310x+3T2025") == (
        "course-v1:MITxT+14.310x",
        "3T2025",
        "Data Analysis for Social Scientists (fall)",
        True,
        False,
        False,
        dt.datetime(2025, 9, 2, tzinfo=UTC),
        dt.datetime(2025, 12, 16, 23, 59, 59, tzinfo=UTC),
        dt.datetime(2025, 7, 1, tzinfo=UTC),
        None,
        False,
        None,
    )
    assert requirement_tree(Program.objects.get(readable_id="program-v1:MITx+DEDP")) == [
        (
            "all-of",
            None,
            "Required courses",
            [("course", "course-v1:MITxT+14.310x"), ("program", "program-v1:MITx+FOUNDATIONS")],
        ),
        (
            "min-of",
            1,
            "Elective courses",
            [("course", "course-v1:MITxT+14.100x"), ("course", "course-v1:MITxT+14.73x")],
        ),
    ]
    assert load(str(path)).stdout == summary((0, 0, 3), (0, 0, 3), (0, 0, 2))


def test_refuses_a_run_title_that_is_not_text(tmp_path, loaded):
    entry = {
        "readable_id": "course-v1:TestX+E1",
        "title": "E",
        "runs": [{"courseware_id": "course-v1:TestX+E1+1T2024", "title": ["not", "text"]}],
    }

    assert course_entry_error(tmp_path, loaded, entry) == (
        'course course-v1:TestX+E1, runs[0]: "title" must be a non-empty string.'
    )


def test_refuses_an_elective_group_title_that_is_not_text(tmp_path, loaded):
    entry = {
        "readable_id": "program-v1:TestX+P",
        "title": "P",
        "requirements": {"electives": {"min": 1, "courses": ["course-v1:TestX+A1"], "title": 7}},
    }

    assert program_entry_error(tmp_path, loaded, entry) == (
        'program program-v1:TestX+P, elective group 1: "title" must be a non-empty string.'
    )


def test_refuses_a_course_listed_twice_in_one_group(tmp_path, loaded):
    entry = {
        "readable_id": "program-v1:TestX+P",
        "title": "P",
        "requirements": {
            "electives": {"min": 2, "courses": ["course-v1:TestX+A1", "course-v1:TestX+A1"]}
        },
    }

    assert program_entry_error(tmp_path, loaded, entry) == (
        "program program-v1:TestX+P: course-v1:TestX+A1 is listed twice in one group."
    )


def test_reloading_leaves_runs_that_became_contract_runs_alone(tmp_path):
    import datetime as dt

    path = write(tmp_path, custom_catalog(), "base.json")
    load(str(path))
    run = CourseRun.objects.get(courseware_id="course-v1:TestX+B1+1T2024")
    closed = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    CourseRun.objects.filter(pk=run.pk).update(is_b2b=True, enrollment_end=closed, live=False)

    out = load(str(path))

    run.refresh_from_db()
    assert (run.is_b2b, run.enrollment_end, run.live) == (True, closed, False)
    assert "course runs: 0 created, 0 updated, 5 unchanged\n" in out.stdout
