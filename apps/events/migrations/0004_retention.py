"""Beat's heartbeat row (core/heartbeat.py) and data retention (apps/events/retention.py)."""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('events', '0003_event_title_trigram'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='RetentionRun',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('ran_at', models.DateTimeField()),
                ('archived_before', models.DateTimeField()),
                ('events', models.PositiveIntegerField()),
                ('participations', models.PositiveIntegerField()),
                ('reminders', models.PositiveIntegerField()),
            ],
            options={
                'ordering': ('-ran_at', '-id'),
            },
        ),
        migrations.CreateModel(
            name='SchedulerHeartbeat',
            fields=[
                ('name', models.CharField(max_length=32, primary_key=True, serialize=False)),
                ('at', models.DateTimeField()),
            ],
        ),
        migrations.AddField(
            model_name='event',
            name='personal_data_removed_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='event',
            name='retained_participants',
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
        migrations.AddIndex(
            model_name='event',
            index=models.Index(condition=models.Q(('personal_data_removed_at__isnull', True), ('status', 'ARCHIVED')), fields=['archived_at'], name='event_retention_due_idx'),
        ),
    ]
