"""The API's entry points: `app` for uvicorn, `handler` for Lambda (template.yaml's Handler).

Importing this module is the Lambda function's init. On Lambda, it fails at once on a missing
setting, so that a bad configuration fails the deployment (with SnapStart, the version's
publication), not a client's request.
"""

from app.entrypoints.init import function_init

# Everything here lives as long as the function's environment (app.entrypoints.init).
with function_init():
    from app.api.factory import create_app
    from app.config import check_at_init, get_api_settings
    from app.entrypoints.lambda_handler import LambdaHandler
    from app.entrypoints.snapstart import register as register_snapstart_hooks
    from app.observability.logs import install_log_context

    check_at_init(get_api_settings)
    install_log_context()

    app = create_app()
    handler = LambdaHandler(app)
    # On Lambda SnapStart, the request paths are primed before the snapshot; elsewhere nothing is.
    register_snapstart_hooks(handler)
