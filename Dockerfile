# The application image for docker-compose.yml: web (gunicorn) and the Celery worker.
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 UV_PROJECT_ENVIRONMENT=/venv PATH=/venv/bin:$PATH
WORKDIR /app
RUN pip install --no-cache-dir uv==0.13.8
COPY pyproject.toml uv.lock ./
# Bytecode compiled once here, so no process of the image recompiles its modules at start.
RUN uv sync --frozen --no-dev --compile-bytecode
COPY . .
RUN python -m compileall -q main b2b courses ecommerce openedx
RUN DEBUG=False SECRET_KEY=collectstatic-only-build-key-not-used-at-runtime ALLOWED_HOSTS=localhost \
    python manage.py collectstatic --no-input -v 0
EXPOSE 8000
CMD ["gunicorn", "main.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3"]
