"""The catalog: courses, their runs (a source run to re-run from) and programs."""

import factory

from courses.models import Course, CourseRun, Program, ProgramRequirement


class CourseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Course
        django_get_or_create = ("readable_id",)

    readable_id = factory.Sequence(lambda n: f"course-v1:TestX+T{n}x")
    title = factory.Sequence(lambda n: f"Test course {n}")


class CourseRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CourseRun

    course = factory.SubFactory(CourseFactory)
    run_tag = "1T2026"
    courseware_id = factory.LazyAttribute(lambda r: f"{r.course.readable_id}+{r.run_tag}")
    title = factory.LazyAttribute(lambda r: r.course.title)
    live = True


def source_run(course: Course) -> CourseRun:
    """The course's source run (run tag SOURCE, is_source_run)."""
    return CourseRunFactory(course=course, run_tag="SOURCE", is_source_run=True, live=False)


def course_with_source(readable_id: str, title: str) -> Course:
    course = CourseFactory(readable_id=readable_id, title=title)
    source_run(course)
    return course


def program_with(readable_id: str, title: str, *, required=(), electives=(), minimum=1) -> Program:
    """A program whose tree has a required group and, optionally, one elective group."""
    program = Program.objects.create(readable_id=readable_id, title=title)
    root = ProgramRequirement.objects.create(
        program=program, node_type="operator", operator="all-of"
    )
    groups = [("all-of", None, required)]
    if electives:
        groups.append(("min-of", minimum, electives))
    for position, (operator, minimum_required, items) in enumerate(groups):
        node = ProgramRequirement.objects.create(
            program=program,
            parent=root,
            node_type="operator",
            operator=operator,
            min_required=minimum_required,
            position=position,
        )
        for leaf_position, item in enumerate(items):
            ProgramRequirement.objects.create(
                program=program,
                parent=node,
                node_type="program" if isinstance(item, Program) else "course",
                course=item if isinstance(item, Course) else None,
                required_program=item if isinstance(item, Program) else None,
                position=leaf_position,
            )
    return program
