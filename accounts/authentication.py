from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken

from accounts.tokens import access_is_denied


class DenylistJWTAuthentication(JWTAuthentication):
    """Simple JWT, plus refusal of access tokens whose owner has logged out."""

    def get_validated_token(self, raw_token):
        token = super().get_validated_token(raw_token)
        if access_is_denied(str(token.get("jti", ""))):
            raise InvalidToken({"detail": "This token has been revoked.", "code": "token_revoked"})
        return token
