"""The API-key authorizer: resolves the tenant and role of every authenticated request."""

from __future__ import annotations

from chalice.app import AuthRequest, AuthResponse, Blueprint, UnauthorizedError

from cashline.domain.access import bearer_token
from cashline.observability import MetricUnit, logger, metrics
from cashline.services.authentication import authenticate
from chalicelib.runtime import api_ready, handler_clock

auth = Blueprint(__name__)


# ttl_seconds=0: no cached decision, so a revoked key is refused on its very next request.
@auth.authorizer(ttl_seconds=0)
def api_key_authorizer(auth_request: AuthRequest) -> AuthResponse:
    api_ready()
    token = bearer_token(auth_request.token)
    principal = authenticate(token, now=handler_clock()) if token else None
    if principal is None:
        logger.info("api key refused")
        metrics.add_metric(name="ApiKeyRefused", unit=MetricUnit.Count, value=1)
        # API Gateway answers 401 exactly when a token authorizer raises "Unauthorized".
        raise UnauthorizedError("Unauthorized")
    return AuthResponse(
        routes=["*"],
        principal_id=principal.key_id,
        context={"tenant_id": principal.tenant_id, "key_id": principal.key_id, "role": principal.role.value},
    )
