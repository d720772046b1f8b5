"""The Flask app served over real HTTP, in a thread of the test process."""

from __future__ import annotations

import threading

POLL = 0.02  # seconds


class LiveServer:
    """The Flask app served over real HTTP on a free local port, in a thread."""

    def __init__(self, app) -> None:
        from werkzeug.serving import make_server

        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        # shutdown() waits for the serving loop's next poll: poll often, stop at once.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": POLL}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join()
