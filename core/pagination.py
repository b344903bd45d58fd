"""One way to page a list: out-of-range and malformed page numbers show the nearest page with a
sentence saying so (「没有第 999 页，共 3 页，已显示第 3 页。」), never an empty table without a word.

Views call :func:`paginate`; templates include ``_pagination.html`` with ``page``.
"""

from __future__ import annotations

from typing import Any

from django.core.paginator import Page, Paginator
from django.http import HttpRequest
from django.utils.translation import gettext as _


class ListPage(Page):  # type: ignore[type-arg]
    """A page that knows what the visitor asked for and the rest of the query string."""

    notice: str = ""
    query: str = ""  # the other parameters of the request, ready to be followed by ``page=N``


class ListPaginator(Paginator):  # type: ignore[type-arg]
    def _get_page(self, *args: Any, **kwargs: Any) -> ListPage:
        return ListPage(*args, **kwargs)


def paginate(request: HttpRequest, items: Any, per_page: int, *, param: str = "page") -> ListPage:
    paginator = ListPaginator(items, per_page)
    asked = request.GET.get(param, "")
    page = paginator.get_page(asked)
    assert isinstance(page, ListPage)
    if asked.strip():
        try:
            number = int(asked)
        except ValueError:
            page.notice = _("页码“%(asked)s”无效，已显示第 %(shown)d 页。") % {
                "asked": asked[:20],
                "shown": page.number,
            }
        else:
            if number != page.number:
                page.notice = _("没有第 %(asked)d 页，共 %(pages)d 页，已显示第 %(shown)d 页。") % {
                    "asked": number,
                    "pages": paginator.num_pages,
                    "shown": page.number,
                }
    params = request.GET.copy()
    params.pop(param, None)
    encoded = params.urlencode()
    page.query = f"{encoded}&" if encoded else ""
    return page
