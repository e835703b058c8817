"""The shared extension objects, unbound; `create_app` binds them."""

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect

from database import Base

db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
# No default limits: routes opt in (sign-in); storage comes from RATELIMIT_STORAGE_URI at init_app.
limiter = Limiter(key_func=get_remote_address, default_limits=[])
