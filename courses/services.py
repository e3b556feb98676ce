"""Catalog services: a program and its requirements tree, a run, a learner's enrollments.

Loading a catalog file is ``courses.catalog`` (``catalog_load``).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from courses.exceptions import RunNotFound
from courses.models import Course, CourseRun, CourseRunEnrollment, Program, ProgramRequirement
from main.exceptions import NotFoundError

# -- reading the requirements tree ---------------------------------------------------------------


def program_get(readable_id: str) -> Program:
    """The program with this readable ID; ``NotFoundError`` naming ``b2b_list`` otherwise."""
    program = Program.objects.filter(readable_id=readable_id).first()
    if program is None:
        raise NotFoundError(
            f"No program '{readable_id}' in the catalog: check the readable ID "
            "(load the catalog with manage.py load_catalog)."
        )
    return program


def program_courses(program: Program) -> list[Course]:
    """Every course in the program's requirements tree, nested programs included.

    Depth-first in tree order, each course once. Required and elective courses alike: a contract
    gets a run for every course a learner might take. Queries: one per program in the tree.
    """
    courses: list[Course] = []
    seen_courses: set[int] = set()
    seen_programs: set[int] = set()

    def walk(current: Program) -> None:
        if current.pk in seen_programs:
            return
        seen_programs.add(current.pk)
        nodes = list(current.requirement_nodes.select_related("course", "required_program"))
        children: dict[int | None, list[ProgramRequirement]] = defaultdict(list)
        for node in nodes:
            children[node.parent_id].append(node)

        def visit(parent_id: int | None) -> None:
            for node in children[parent_id]:
                # A leaf names a course or a program, an operator neither (the node-shape
                # constraint of ProgramRequirement).
                if node.course is not None:
                    if node.course.pk not in seen_courses:
                        seen_courses.add(node.course.pk)
                        courses.append(node.course)
                elif node.required_program is not None:
                    walk(node.required_program)
                else:
                    visit(node.pk)

        visit(None)

    walk(program)
    return courses


# -- enrollments ---------------------------------------------------------------------------------


def run_get(courseware_id: str) -> CourseRun:
    """The run with this courseware ID, or ``RunNotFound``."""
    run = CourseRun.objects.select_related("course").filter(courseware_id=courseware_id).first()
    if run is None:
        raise RunNotFound(
            f"No course run '{courseware_id}': give the courseware ID of an existing run "
            "(GET /api/v0/courses/ lists each course's runs; a contract's runs are listed on "
            "My courses, /dashboard/)."
        )
    return run


def enrollments_list(user: Any) -> list[CourseRunEnrollment]:
    """The learner's active enrollments, newest first, with run, course and contract loaded."""
    return list(
        CourseRunEnrollment.objects.filter(user=user, active=True)
        .select_related("run__course", "run__b2b_contract__organization")
        .order_by("-created_on", "-pk")
    )
