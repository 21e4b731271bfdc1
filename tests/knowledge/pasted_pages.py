"""A small corpus of news pages as people paste them: each outlet style's furniture around a short
made-up story, with the headline and date a reader would read off the page.

Styles: a Chinese state outlet (section header, outlet line, timestamp, "Source: … Editor: …"
trailer), a section line with a "Views:" counter, wire datelines with and without a year, bylines
("By …", a name above "… correspondent", "Posted … by …"), "Updated" lines, share and save buttons,
reading times, "Read more" teasers, a blog, and a page with no furniture at all.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PastedPage:
    name: str
    raw: str
    title: str
    published: str  # YYYY-MM-DD
    author: str = ""
    gone: tuple[str, ...] = ()  # furniture that must not be left in the body
    kept: tuple[str, ...] = ()  # body text that must stay word for word


PORT = ("The Port of Rotterdam handled 112 million tonnes of cargo in the first quarter, "
        "its highest total for three years, the port authority said on Tuesday.")
PORT_2 = "Container volumes rose 6 percent, while coal and oil products fell."

PAGES = (
    PastedPage(
        "section line, timestamp with views, source and editor trailer",
        f"Business\n2024-09-18 14:05:33 | Views: 1,204\n\nRotterdam port posts record quarter\n\n{PORT}\n\n{PORT_2}\n\n"
        "Source: Xinhua Editor: Li Ming\n",
        "Rotterdam port posts record quarter", "2024-09-18",
        gone=("Views", "Business", "Editor:"), kept=(PORT, PORT_2)),
    PastedPage(
        "headline first, then section line and timestamp",
        f"Rotterdam port posts record quarter\nBusiness | 2024-09-18 14:05\n\n{PORT}\n\n{PORT_2}\n",
        "Rotterdam port posts record quarter", "2024-09-18", kept=(PORT,)),
    PastedPage(
        "date header, outlet line and UTC+8 timestamp",
        "\u00a0date 2025-01-14 News\u00a0/\u00a0Business\n\nRotterdam port posts record quarter\n\nXinhua\n"
        f"\u00a0\u00a018:17 UTC+8, 2025-01-14\u00a0\u00a0\u00a0\u00a0 0\n{PORT}\n\n{PORT_2}\n\nSource:\u00a0Xinhua\u00a0\u00a0 Editor:\u00a0Zhu Qing\n",
        "Rotterdam port posts record quarter", "2025-01-14", gone=("UTC+8", "News / Business"), kept=(PORT,)),
    PastedPage(
        "plain .txt with a wire dateline, day before month",
        f"Dutch port sets new throughput record\n\nROTTERDAM, 4 March 2025 - {PORT}\n\n{PORT_2}\n",
        "Dutch port sets new throughput record", "2025-03-04", kept=(f"ROTTERDAM, 4 March 2025 - {PORT}",)),
    PastedPage(
        "wire dateline, month before day, agency in brackets",
        f"Dutch port sets new throughput record\n\nROTTERDAM, March 4, 2025 (Reuters) — {PORT}\n\n{PORT_2}\n",
        "Dutch port sets new throughput record", "2025-03-04"),
    PastedPage(
        "wire story: byline, reading time, date and update line, share buttons, no year in the dateline",
        "Dutch port sets new throughput record\nBy Anna Visser\n3 min read\nMarch 5, 2025 10:42 AM GMT Updated 2 hours ago\n"
        f"Share\n\nROTTERDAM, March 5 (Reuters) - {PORT}\n\n{PORT_2}\n\n(Reporting by Anna Visser; Editing by Tom Hale)\n",
        "Dutch port sets new throughput record", "2025-03-05", author="Anna Visser",
        gone=("min read", "Share\n", "Updated 2 hours"), kept=("(Reporting by Anna Visser; Editing by Tom Hale)",)),
    PastedPage(
        "news agency: capital byline, Updated line only, copy link, Read more teaser",
        "Storm knocks out power to thousands along the coast\nBY JOHN SMITH\nUpdated 3:14 PM UTC, March 6, 2025\n"
        "Share\nCopy Link\nShare\n\nNEW ORLEANS (AP) — A storm knocked out power to 40,000 homes and businesses along the "
        "Gulf Coast on Wednesday, utilities said.\n\nRead more: Hurricane season starts early this year\n\n"
        "Crews expect to restore most power by Friday.\n",
        "Storm knocks out power to thousands along the coast", "2025-03-06", author="JOHN SMITH",
        gone=("Read more", "Copy Link", "Updated 3:14"), kept=("Crews expect to restore most power by Friday.",)),
    PastedPage(
        "public broadcaster: date, share and save, name above a correspondent line, related topics",
        "Train fares in England to rise by 4.6% in March\n12 January 2025\nShare\nSave\nJane Doe\nTransport correspondent\n\n"
        "Rail fares in England will rise by 4.6% from 2 March, the government has confirmed, the biggest rise for two years.\n\n"
        "Passenger groups said the increase would hit commuters hard.\n\nRelated topics\n",
        "Train fares in England to rise by 4.6% in March", "2025-01-12", author="Jane Doe",
        gone=("Save", "Transport correspondent", "Related topics")),
    PastedPage(
        "newspaper: age warning, byline, weekday date with dotted time",
        "Ministers announce new flood defences for northern towns\nThis article is more than 1 year old\nJane Doe\n"
        "Environment correspondent\nTue 4 Mar 2025 12.05 GMT\nShare\n\n"
        "Ministers have announced 200 million pounds for new flood defences in 12 northern towns, after a winter of record rainfall.\n",
        "Ministers announce new flood defences for northern towns", "2025-03-04", author="Jane Doe",
        gone=("more than 1 year old", "12.05 GMT")),
    PastedPage(
        "international broadcaster: Updated line with day-month-year dashes, By line",
        "China's exports grow faster than expected in August\nUpdated 14:05, 18-Sep-2024\nBy Li Wei\n\n"
        "China's exports grew 8.7 percent year on year in August, beating forecasts, customs data showed on Monday.\n",
        "China's exports grow faster than expected in August", "2024-09-18", author="Li Wei"),
    PastedPage(
        "blog: Posted on … by …, Published and Last updated labels",
        "Why our harbour ferries are always late\nPosted on March 4, 2025 by harbourwatch\n\n"
        "Anyone who takes the 8:15 ferry knows it rarely leaves before 8:30, and the timetable has not changed since 2019.\n",
        "Why our harbour ferries are always late", "2025-03-04", author="harbourwatch", gone=("Posted on",)),
    PastedPage(
        "labelled published and last updated lines, section label, Sept. abbreviation",
        "World\nLast updated: Sept. 20, 2024\nPublished: Sept. 18, 2024 09:30\n\nRotterdam port posts record quarter\n\n"
        f"{PORT}\n",
        "Rotterdam port posts record quarter", "2024-09-18", gone=("World\n", "Last updated")),
    PastedPage(
        "no furniture at all: headline, blank line, text",
        f"Rotterdam port posts record quarter\n\n{PORT}\n\n{PORT_2}\n",
        "Rotterdam port posts record quarter", "", kept=(PORT, PORT_2)),
)
