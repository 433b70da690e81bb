from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken

from accounts.tokens import access_is_denied


class DenylistJWTAuthentication(JWTAuthentication):
    """Simple JWT, plus refusal of access tokens whose owner has logged out."""

    def get_user(self, validated_token):
        # After the user is loaded: their last sign-out says whether the denylist needs asking.
        user = super().get_user(validated_token)
        jti, issued_at = str(validated_token.get("jti", "")), validated_token.get("iat")
        if access_is_denied(user=user, jti=jti, issued_at=issued_at):
            raise InvalidToken({"detail": "This token has been revoked.", "code": "token_revoked"})
        return user
