"""Peak resident memory of the TUI with a database open and the list paged through.

Prints megabytes. Runs the real app headless and pages down 50 times.
"""

import asyncio
import resource
import sys

from verkstad.config import Settings
from verkstad.db import Database
from verkstad.users import Actor, Role


async def main(url: str) -> None:
    from verkstad.app import VerkstadApp
    from verkstad.screens.order_list import OrderListScreen

    db = Database(url)
    app = VerkstadApp(db, Actor("admin", Role.ADMIN), Settings())
    async with app.run_test(size=(160, 50)) as pilot:
        while not isinstance(app.screen, OrderListScreen) or app.screen.next_cursor is None:
            await pilot.pause(0.05)
        for _ in range(50):
            await pilot.press("pagedown")
            await pilot.pause()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
