"""The member portal: server-rendered GOV.UK Design System pages and a JSON API, served by
the bridge on the council's own server (`crm-bridge serve`).

Layout: ``factory`` builds the app; ``context`` works out who is asking; ``policy`` says
what they may see; ``queries`` and ``actions`` read and change the store; ``routes/`` holds
one module per page and ``routes/api`` the JSON API; ``templates/`` and ``static/`` the
front end (``static/vendor`` is built by scripts/build-assets.sh from npm packages).
"""

from crm_bridge.portal.factory import create_app, session_secret

__all__ = ["create_app", "session_secret"]
