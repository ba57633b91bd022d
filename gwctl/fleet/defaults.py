"""Where the product puts things on a Windows host unless the fleet says otherwise.

Kept apart from the model so that a command's help text can name them without loading
the model, the renderer and their templates (``gwctl --help`` stays fast).
"""

DEFAULT_INSTALL_DIR = r"C:\Program Files\Milestone\XProtect API Gateway"
DEFAULT_BACKUP_DIR = r"C:\ProgramData\gwctl\backups"
DEFAULT_SERVER_CONFIG = r"C:\ProgramData\Milestone\XProtect Management Server\ServerConfig.xml"
#: the log directory of the nlog.config the installer ships
DEFAULT_LOG_DIRECTORY = r"C:\ProgramData\Milestone\ApiGateway\Logs"
