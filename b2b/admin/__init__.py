"""The Django Admin's B2B pages (SPEC §7).

- Organizations and contracts: view only, for everyone (superusers too): they are edited in
  Wagtail and with the commands, which keep runs, products and codes in step.
- Contract memberships: listed read-only; staff add (source ``manual``) and remove them on the
  User page, through ``b2b.services.memberships`` (the cap, the contract-row lock, the audit).
- Enrollment codes: read-only, searchable by code, filtered by contract and state.
- Course runs: ``courses.admin.CourseRunAdmin``, whose saves go through
  ``b2b.services.runs.course_run_change`` (a contract run's change lands in the contract's
  history, and its title, pacing and dates go to Open edX).

Every list and detail page runs a bounded number of queries, whatever the number of learners,
runs or codes (counts are aggregated in the list's own query; details use fixed queries).
"""

# Each module registers its pages when imported (Django imports b2b.admin at start-up).
from b2b.admin import codes, contracts, course_runs, users  # noqa: F401
