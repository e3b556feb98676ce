from django.urls import include, path
from rest_framework.routers import SimpleRouter

from courses.views import PublicCourseViewSet

router = SimpleRouter()
router.register("courses", PublicCourseViewSet, basename="public-course")

urlpatterns = [path("api/v0/", include(router.urls))]
