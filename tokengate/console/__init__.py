"""``tokengate console``: the operator console, a web app on 127.0.0.1 in the way of ``kubectl proxy``
or Jupyter. It serves a page and forwards the page's calls to the admin API of the target it was
started with, signed with the CLI's own credentials: it can do what the caller's identity may do,
and IAM, not the page, decides what that is.

One job per module:

- :mod:`~tokengate.console.security`: who may talk to it (one-time URL, cookie, Host, Origin, CSP);
- :mod:`~tokengate.console.forward`: which admin routes a page may call, signed and sent to the target;
- :mod:`~tokengate.console.events`: where lifecycle events are read (events.jsonl, or a log group);
- :mod:`~tokengate.console.app`: the routes;
- :mod:`~tokengate.console.settings`: the target, credentials and facts the page is told, from the CLI's options;
- :mod:`~tokengate.console.server`: listening, the one-time URL, the browser;
- :mod:`~tokengate.console.vendor`: the browser libraries in ``static/vendor``, copied from npm packages.

The page itself is ``static/``: plain ES modules over Preact + htm, with Chart.js for usage, no build step.
"""

from tokengate import use_services_path

# The console reads the admin API's route table and the record patterns from tokengate_core.
use_services_path()
