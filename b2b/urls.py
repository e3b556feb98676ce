from django.urls import path

from b2b import api, views

urlpatterns = [
    path("dashboard/", views.dashboard, name="dashboard"),
    path("dashboard/enroll/<int:run_id>/", views.dashboard_enroll, name="dashboard-enroll"),
    path("join/", views.join, name="join"),
    path("join/<str:code>/", views.join, name="join-code"),
    path("api/v0/enrollments/", api.EnrollmentsView.as_view(), name="api-enrollments"),
    path("api/v0/contracts/join/", api.JoinView.as_view(), name="api-contracts-join"),
]
