"""Shared foundation of the Phi Agents services: settings, database models, migrations, catalog."""
