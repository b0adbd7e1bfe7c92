"""Counting without reading the archive: capped counts and a paginator that counts only as far as it must.

A million cases make an exact count the slowest part of a page (every matching row is read to say
"199,780"). Nobody acts on the exact figure above a few hundred, so the pages count up to a cap and say
"1,000+" beyond it. Below the cap (the short queues a radiologist works through) the figure stays exact.
"""

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.utils.functional import cached_property

COUNT_CAP = 1000


def capped_count(rows: QuerySet, cap: int = COUNT_CAP) -> int:
    """How many rows, counting no further than cap + 1: a result above `cap` means "more than cap"."""
    return rows.order_by()[: cap + 1].count()


def count_text(count: int, cap: int = COUNT_CAP) -> str:
    """A count as a page shows it: exact up to the cap, "1,000+" above it."""
    return f"{cap:,}+" if count > cap else f"{count:,}"


class CappedPaginator(Paginator):
    """A paginator whose count stops a page beyond the one asked for (and never below `cap`).

    The asked page and the one after it are always counted, so Previous and Next work on every page,
    however deep; only the total is left open ("Page 3 of 40+") when there are more rows than were counted.
    Use `get_page`: it sets how far to count before the count is read.
    """

    def __init__(self, object_list, per_page, *, cap: int = COUNT_CAP, **kwargs):
        super().__init__(object_list, per_page, **kwargs)
        self.reach = cap
        self.known: tuple[int, bool] | None = None

    def get_page(self, number) -> Page:
        try:
            asked = max(1, int(number))
        except (TypeError, ValueError):
            asked = 1
        # Counting one page past the asked one tells whether it has a next page.
        self.reach = max(self.reach, (asked + 1) * self.per_page)
        return super().get_page(number)

    @cached_property
    def counted(self) -> int:
        if self.known is not None:
            count, exact = self.known
            if exact or count > self.reach:  # exact, or already more than this page needs counted
                return count
        return capped_count(self.object_list, self.reach)

    @cached_property
    def count(self) -> int:
        return min(self.counted, self.reach)

    @property
    def more(self) -> bool:
        """More rows than were counted: the total is not known, only that it exceeds `count`."""
        return self.counted > self.reach

    def know(self, count: int, *, exact: bool) -> None:
        """A count already known (e.g. from the per-status counts): exact, or only "at least `count`". Spares
        the count query unless a page deeper than that lower bound is asked for."""
        self.known = (count, exact)
        if exact:
            self.reach = max(self.reach, count)
