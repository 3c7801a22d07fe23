"""``celery.contrib.django``: the Django task class (``DjangoTask``)."""
