"""Piccolo configuration module (``PICCOLO_CONF``): the engine and the app registry."""

from piccolo.conf.apps import AppRegistry

from pass_numerique.db.engine import make_engine
from pass_numerique.settings import get_settings

DB = make_engine(get_settings())

APP_REGISTRY = AppRegistry(apps=["pass_numerique.db.piccolo_app"])
