import re

from django.db import migrations, models

CONTRACT_RUN_KEY = re.compile(r"^course-v1:UAI_[^+]+\+[^+]+\+\d{4}_C\d+$")


def backfill_source_keys(apps, schema_editor):
    """Contract runs created here before ``edx_source_key`` existed (key with a ``UAI_*`` org and
    a ``YYYY_C<contract id>`` run tag, on a course with a source run) record that source run."""
    CourseRun = apps.get_model("courses", "CourseRun")
    sources = dict(
        CourseRun.objects.filter(is_source_run=True).values_list("course_id", "courseware_id")
    )
    for run in CourseRun.objects.filter(is_b2b=True, is_source_run=False, edx_source_key=""):
        if CONTRACT_RUN_KEY.match(run.courseware_id) and run.course_id in sources:
            run.edx_source_key = sources[run.course_id]
            run.save(update_fields=["edx_source_key"])


class Migration(migrations.Migration):

    dependencies = [
        ('courses', '0002_initial'),
    ]

    operations = [
        migrations.AddField(
            model_name='courserun',
            name='edx_attempts',
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name='courserun',
            name='edx_last_attempt_on',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='courserun',
            name='edx_source_key',
            field=models.CharField(blank=True, default='', max_length=255),
        ),
        migrations.AddField(
            model_name='courserunenrollment',
            name='edx_attempts',
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name='courserunenrollment',
            name='edx_last_attempt_on',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(backfill_source_keys, migrations.RunPython.noop),
    ]
