from tests.oidc import oidc_provider, sso, world  # noqa: F401  (fixtures)
