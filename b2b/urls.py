from django.urls import path

from b2b import api, views

urlpatterns = [
    path("dashboard/", views.dashboard, name="dashboard"),
    path("dashboard/enroll/<int:run_id>/", views.dashboard_enroll, name="dashboard-enroll"),
    path("api/v0/enrollments/", api.EnrollmentsView.as_view(), name="api-enrollments"),
]
