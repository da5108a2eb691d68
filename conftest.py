# Database fixtures shared by every package's tests.
pytest_plugins = ["phi_platform.testing"]
