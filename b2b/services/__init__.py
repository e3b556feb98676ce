"""The b2b services: organizations, contracts, courseware, enrollment codes, listings.

Interfaces (commands, views, Wagtail hooks, tasks) parse input and call one of these; each does
its work in a transaction and schedules side effects on commit (ARCHITECTURE).
"""
