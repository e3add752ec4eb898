"""Generator of the committed seed file ``backend/data/conference.json``.

Strategy: the seed is a data file, not code, so the app never depends on this
module at run time. The generator exists so the file can be rebuilt and
reviewed: hand-picked names (shared first names and surnames, non-ASCII
letters) plus a fixed-seed ``random.Random`` that places sessions in a
3-day x 6-room x 9-slot grid without double-booking a speaker. A test checks
that the committed file equals the generator's output, so the two never drift.

Run: ``python -m backend.seed_generator backend/data/conference.json``.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path
from typing import Any

SEED = 20260601

# Speaker ids follow list order (1-based). Some entries are deliberate:
# "Maria"/"María" share a first name (accent-insensitive ambiguity), several
# surnames repeat, and id 1 gets several sessions; the last speaker has none.
_SPEAKERS: tuple[tuple[str, str], ...] = (
    ("Amelia Hartley", "Northwind Cloud"),
    ("José García", "Datastream Labs"),
    ("Zoë Fischer", "Helix Security"),
    ("Łukasz Wiśniewski", "Vistula Systems"),
    ("Søren Lindqvist", "Nordlys Analytics"),
    ("Maria Rossi", "Appennino Software"),
    ("María González", "Sierra Compute"),
    ("Daniel Kim", "Lumen Robotics"),
    ("Daniel Okafor", "Baobab Payments"),
    ("Priya Raman", "Kaveri AI"),
    ("Chen Wei", "Jade River Tech"),
    ("Olivia Brown", "Maple Stack"),
    ("Liam Brown", "Thistle Data"),
    ("Noah Müller", "Rheinwerk Digital"),
    ("Anna Müller", "Alpenglow Health"),
    ("François Dubois", "Lutèce Logiciels"),
    ("Hélène Martin", "Garonne Cloud"),
    ("Kenji Watanabe", "Sakura Mobility"),
    ("Aisha Bello", "Niger Delta Fintech"),
    ("Mateus Silva", "Atlântico Labs"),
    ("Beatriz Silva", "Ipanema Software"),
    ("Björn Andersson", "Fjäll Infrastructure"),
    ("Ingrid Haugen", "Fjord Energy Systems"),
    ("Tomás O'Brien", "Liffey Networks"),
    ("Siobhán Murphy", "Shamrock Observability"),
    ("Alex Morgan", "Keystone Platforms"),
    ("Alex Petrov", "Volga Compute"),
    ("Dmitri Ivanov", "Baikal Databases"),
    ("Elena Popescu", "Carpathia Software"),
    ("Nguyễn Thị Lan", "Mekong Digital"),
    ("Minh Nguyen", "Saigon Stack"),
    ("Fatima Zahra El Amrani", "Atlas Devices"),
    ("Youssef Haddad", "Cedar Compute"),
    ("Sarah Cohen", "Carmel Security"),
    ("David Cohen", "Negev Robotics"),
    ("Emma Johansson", "Göta Streaming"),
    ("Lucas Johansson", "Uppsala Research"),
    ("Chloé Lefèvre", "Loire Data"),
    ("Matteo Bianchi", "Dolomiti Cloud"),
    ("Giulia Bianchi", "Laguna Labs"),
    ("Rahul Mehta", "Indus Platforms"),
    ("Ananya Iyer", "Nilgiri Systems"),
    ("Samuel Adeyemi", "Lagos Edge"),
    ("Grace Wanjiru", "Rift Valley Tech"),
    ("Ethan Walker", "Cascade Tools"),
    ("Sophia Walker", "Prairie Analytics"),
    ("Jakub Dvořák", "Vltava Software"),
    ("Zuzana Nováková", "Tatra Systems"),
    ("Mikael Virtanen", "Saimaa Networks"),
    ("Aino Korhonen", "Lapland Compute"),
    ("Pedro Álvarez", "Guadalquivir Data"),
    ("Lucía Fernández", "Cantábrico Cloud"),
    ("Hannah Schmidt", "Elbe Observability"),
    ("Jonas Schmidt", "Spree Labs"),
    ("Yuki Tanaka", "Fuji Machine Learning"),
    ("Haruto Sato", "Kanto Edge"),
    ("Olumide Bakare", "Ogun Cloud"),
    ("Camille Moreau", "Rhône Robotics"),
    ("Ravi Shankar", "Deccan Data"),
    ("Isabella Costa", "Tejo Software"),
    ("Marta Kowalska", "Mazury Labs"),
    ("Piotr Kowalski", "Warta Systems"),
    ("Leilani Kahale", "Pacific Rim Compute"),
    ("Oscar Lindgren", "Lindgren Consulting"),
)

_TOPICS: tuple[tuple[str, str], ...] = (
    ("API Design", "Designing HTTP APIs people enjoy using: resources, errors, versioning."),
    ("API Gateways", "Routing, authentication and traffic policy at the edge."),
    ("Observability", "Metrics, logs and traces that answer real production questions."),
    ("Kubernetes", "Running and operating workloads on Kubernetes clusters."),
    ("Serverless", "Functions, event-driven compute and pay-per-use platforms."),
    ("Security", "Threat modelling, secure defaults and incident response."),
    ("Identity and Access", "OAuth, OpenID Connect, API keys and fine-grained authorisation."),
    ("Machine Learning", "Training, evaluating and shipping models."),
    ("Large Language Models", "Building products on LLMs: prompting, tools, evaluation."),
    ("Retrieval", "Search, embeddings and retrieval-augmented generation."),
    ("Data Engineering", "Pipelines, batch and streaming data processing."),
    ("Databases", "Relational and non-relational storage, indexing and tuning."),
    ("Distributed Systems", "Consensus, replication and failure handling."),
    ("Performance", "Profiling, benchmarking and making systems fast."),
    ("Resilience", "Timeouts, retries, circuit breakers and graceful degradation."),
    ("Frontend", "Web user interfaces, frameworks and accessibility."),
    ("Mobile", "Native and cross-platform mobile development."),
    ("Testing", "Test strategy, contract tests and property-based testing."),
    ("DevOps", "Continuous delivery, infrastructure as code and platform teams."),
    ("Cloud Architecture", "Designing systems for public and hybrid clouds."),
    ("Event Streaming", "Kafka, queues and event-driven architecture."),
    ("Python", "The Python language, its ecosystem and tooling."),
    ("Rust", "Systems programming with Rust."),
    ("Go", "Building services and tools in Go."),
    ("Web Assembly", "WebAssembly in the browser, at the edge and on servers."),
    ("Developer Experience", "Tooling, documentation and onboarding for developers."),
    ("Open Source", "Maintaining, contributing to and governing open-source projects."),
    ("Privacy", "Data protection, compliance and privacy engineering."),
    ("Green Software", "Measuring and reducing the carbon footprint of software."),
    ("Engineering Leadership", "Teams, careers and technical decision making."),
    ("Accessibility", "Building software everyone can use."),
    ("Edge Computing", "Running code close to users and devices."),
)

_ROOMS = ("Main Hall", "Room A", "Room B", "Room C", "Workshop 1", "Workshop 2")
_SLOTS = (
    ("09:00", "09:45"),
    ("10:00", "10:45"),
    ("11:00", "11:45"),
    ("12:00", "12:45"),
    ("14:00", "14:45"),
    ("15:00", "15:45"),
    ("16:00", "16:45"),
    ("17:00", "17:45"),
    ("18:00", "18:45"),
)
_LEVELS = ("beginner", "intermediate", "advanced")
_TITLE_PATTERNS = (
    "{topic} in practice: lessons from production",
    "A gentle introduction to {topic}",
    "{topic} at scale",
    "Ten mistakes we made with {topic}",
    "{topic} and {other}: a field guide",
    "Beyond the hype: {topic} for busy teams",
    "Deep dive: {topic} internals",
    "From zero to {topic}",
    "What nobody tells you about {topic}",
    "Patterns for {topic} with {other}",
    "Hands-on workshop: {topic}",
    "The future of {topic}",
)
_ABSTRACT_OPENERS = (
    "This talk walks through how our team adopted {topic} and what we would do differently.",
    "We cover the core ideas of {topic} with live examples and a short Q&A.",
    "A practical session on {topic}, built around a real system serving millions of requests.",
    "Bring a laptop: we build a small project that combines {topic} and {other}.",
    "An opinionated tour of {topic}, its trade-offs and where {other} fits in.",
)
_ABSTRACT_CLOSERS = {
    "beginner": "No prior experience is needed.",
    "intermediate": "Some familiarity with {topic} helps.",
    "advanced": "Aimed at practitioners who already run {topic} in production.",
}
_BIO_PATTERNS = (
    "{first} works at {company} on {topic}; before that they built {other} tooling.",
    "{first} leads the {topic} team at {company} and speaks regularly about {other}.",
    "{first} is an engineer at {company} who cares about {topic} and {other}.",
    "{first} maintains open-source {topic} libraries and works at {company}.",
)

#: Sessions that get a second speaker (index into the generated session list).
_TWO_SPEAKER_EVERY = 11
#: Speaker id 1 gets this many sessions (a "busy" speaker for tests and demos).
_BUSY_SPEAKER_SESSIONS = 5
_CONFERENCE = {
    "name": "APISIX Demo Conference 2026",
    "city": "Lisbon",
    "days": [
        {"day": 1, "date": "2026-06-09"},
        {"day": 2, "date": "2026-06-10"},
        {"day": 3, "date": "2026-06-11"},
    ],
}


def generate() -> dict[str, Any]:
    """Build the whole seed document; the same output on every call."""
    rng = random.Random(SEED)
    speakers = _speakers(rng)
    topics = [
        {"id": index, "name": name, "description": description}
        for index, (name, description) in enumerate(_TOPICS, start=1)
    ]
    sessions = _sessions(rng, len(speakers))
    return {"conference": _CONFERENCE, "speakers": speakers, "topics": topics, "sessions": sessions}


def _speakers(rng: random.Random) -> list[dict[str, Any]]:
    result = []
    for index, (name, company) in enumerate(_SPEAKERS, start=1):
        topic, other = rng.sample([t for t, _ in _TOPICS], 2)
        bio = rng.choice(_BIO_PATTERNS).format(
            first=name.split()[0], company=company, topic=topic, other=other
        )
        result.append({"id": index, "name": name, "company": company, "bio": bio})
    return result


def _sessions(rng: random.Random, speaker_count: int) -> list[dict[str, Any]]:
    grid = [
        (day, room, slot) for day in (1, 2, 3) for slot in _SLOTS for room in _ROOMS
    ]  # 162 slots, every one filled
    # Speaker 1 is busy; the last speaker has no session; everyone else gets
    # a share of the remaining slots so the load is realistic (1-4 talks).
    pool = [1] * _BUSY_SPEAKER_SESSIONS
    others = list(range(2, speaker_count))
    while len(pool) < len(grid):
        pool.extend(others)
    pool = pool[: len(grid)]
    rng.shuffle(pool)
    busy: set[tuple[int, int, str]] = set()  # (speaker, day, start)
    sessions = []
    topic_names = [t for t, _ in _TOPICS]
    for index, (day, room, (start, end)) in enumerate(grid):
        session_id = 101 + index
        lead = _free_speaker(pool, busy, day, start)
        speaker_ids = [lead]
        if index % _TWO_SPEAKER_EVERY == 3:
            partner = next(
                s
                for s in rng.sample(others, len(others))
                if s != lead and (s, day, start) not in busy
            )
            busy.add((partner, day, start))
            speaker_ids.append(partner)
        topic_ids = sorted(rng.sample(range(1, len(_TOPICS) + 1), rng.randint(1, 4)))
        topic = topic_names[topic_ids[0] - 1]
        other = topic_names[topic_ids[-1] - 1] if len(topic_ids) > 1 else rng.choice(topic_names)
        level = rng.choice(_LEVELS)
        title = rng.choice(_TITLE_PATTERNS).format(topic=topic, other=other)
        abstract = " ".join(
            (
                rng.choice(_ABSTRACT_OPENERS).format(topic=topic, other=other),
                _ABSTRACT_CLOSERS[level].format(topic=topic),
            )
        )
        sessions.append(
            {
                "id": session_id,
                "title": title,
                "abstract": abstract,
                "day": day,
                "start": start,
                "end": end,
                "room": room,
                "level": level,
                "speaker_ids": sorted(speaker_ids),
                "topic_ids": topic_ids,
            }
        )
    return sessions


def _free_speaker(pool: list[int], busy: set[tuple[int, int, str]], day: int, start: str) -> int:
    """Take the first pooled speaker not already talking at (day, start)."""
    for position, speaker in enumerate(pool):
        if (speaker, day, start) not in busy:
            del pool[position]
            busy.add((speaker, day, start))
            return speaker
    raise RuntimeError("seed grid cannot be filled without double-booking")


def render() -> str:
    """The seed document exactly as committed (stable key order, UTF-8, newline)."""
    return json.dumps(generate(), ensure_ascii=False, indent=1) + "\n"


def main(argv: list[str]) -> int:
    target = Path(argv[1]) if len(argv) > 1 else None
    text = render()
    if target is None:
        sys.stdout.write(text)
    else:
        target.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
