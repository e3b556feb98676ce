from django.urls import path

from b2b import api, manage_api, manage_views, views

urlpatterns = [
    path("dashboard/", views.dashboard, name="dashboard"),
    path("dashboard/enroll/<int:run_id>/", views.dashboard_enroll, name="dashboard-enroll"),
    path("join/", views.join, name="join"),
    path("join/<str:code>/", views.join, name="join-code"),
    path("api/v0/enrollments/", api.EnrollmentsView.as_view(), name="api-enrollments"),
    path("api/v0/contracts/join/", api.JoinView.as_view(), name="api-contracts-join"),
    path("manage/", manage_views.manage, name="manage"),
    path("manage/contracts/<int:contract_id>/", manage_views.contract, name="manage-contract"),
    path("manage/contracts/<int:contract_id>/assign/", manage_views.assign, name="manage-assign"),
    path(
        "manage/contracts/<int:contract_id>/assignments/<int:assignment_id>/<str:action>/",
        manage_views.assignment_action,
        name="manage-assignment-action",
    ),
    path(
        "api/v0/manage/organizations/",
        manage_api.OrganizationsView.as_view(),
        name="api-manage-organizations",
    ),
    path(
        "api/v0/manage/contracts/<int:contract_id>/",
        manage_api.ContractView.as_view(),
        name="api-manage-contract",
    ),
    path(
        "api/v0/manage/contracts/<int:contract_id>/learners/",
        manage_api.LearnersView.as_view(),
        name="api-manage-learners",
    ),
    path(
        "api/v0/manage/contracts/<int:contract_id>/assignments/",
        manage_api.AssignmentsView.as_view(),
        name="api-manage-assignments",
    ),
    path(
        "api/v0/manage/contracts/<int:contract_id>/codes/",
        manage_api.CodesView.as_view(),
        name="api-manage-codes",
    ),
]
