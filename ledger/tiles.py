"""C2SP tlog tiles: the storage layout of the log and its export (pure, no Django).

A tile (https://c2sp.org/tlog-tiles) at level ``L`` and index ``N`` holds the
hashes of the tree nodes at height ``8·L`` numbered ``256·N`` to ``256·N+W-1``:
level-0 tiles hold leaf hashes, a level-1 tile holds the roots of 256-leaf
subtrees, and so on. A tile is *full* with 256 hashes; the right edge of the
tree has *partial* tiles of width 1..255, which grow until they are full and
then never change.

The database stores these tiles (``ledger.models.Tile``), each followed by its
inner nodes of heights 4..7 (see ``STORED_INNER``), so any subtree hash needs at
most one tile per level: a proof at a million entries reads three rows in one
query and hashes a few dozen nodes. The export writes the bare C2SP tiles; the
same functions serve the export directory and the offline auditor.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ledger.merkle import Hasher

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT
MAX_ENTRY_BYTES = 0xFFFF  # entry bundles prefix each entry with a 16-bit length
TileId = tuple[int, int]  # (level, index)


def tile_key(level: int, index: int) -> int:
    """One integer per tile, the primary key of its database row."""
    return (level << 48) | index


def level_width(size: int, level: int) -> int:
    """How many node hashes of height 8·level a tree of ``size`` leaves has."""
    return size >> (TILE_HEIGHT * level)


def tile_width(size: int, level: int, index: int) -> int:
    """The width of tile (level, index) in a tree of ``size`` leaves (0 if the tile does not exist)."""
    n = level_width(size, level) - index * TILE_WIDTH
    return max(0, min(n, TILE_WIDTH))


def edge_tiles(size: int) -> list[TileId]:
    """The partial tiles at the right edge of a tree of ``size`` leaves."""
    out = []
    level = 0
    while (count := level_width(size, level)) > 0:
        if count % TILE_WIDTH:
            out.append((level, count // TILE_WIDTH))
        level += 1
    return out


def _index_path(index: int) -> str:
    parts = []
    while True:
        parts.append(f"{index % 1000:03d}")
        index //= 1000
        if index == 0:
            break
    parts.reverse()
    return "/".join([*(f"x{p}" for p in parts[:-1]), parts[-1]])


def tile_path(level: int, index: int, width: int = TILE_WIDTH) -> str:
    """``tile/<L>/<N>[.p/<W>]``, with N as in the C2SP spec (``x001/x234/067``)."""
    suffix = "" if width == TILE_WIDTH else f".p/{width}"
    return f"tile/{level}/{_index_path(index)}{suffix}"


def entries_path(index: int, width: int = TILE_WIDTH) -> str:
    """``tile/entries/<N>[.p/<W>]``: the bundle of entries 256·N … 256·N+W-1."""
    suffix = "" if width == TILE_WIDTH else f".p/{width}"
    return f"tile/entries/{_index_path(index)}{suffix}"


def encode_bundle(entries: Sequence[bytes]) -> bytes:
    """An entry bundle: each entry as a big-endian uint16 length and its bytes."""
    out = bytearray()
    for e in entries:
        if len(e) > MAX_ENTRY_BYTES:
            raise ValueError("entry longer than 65535 bytes")
        out += len(e).to_bytes(2, "big")
        out += e
    return bytes(out)


def decode_bundle(data: bytes) -> list[bytes]:
    """The entries of an entry bundle; raises ``ValueError`` if it is truncated."""
    out = []
    pos = 0
    while pos < len(data):
        if pos + 2 > len(data):
            raise ValueError("truncated entry bundle")
        n = int.from_bytes(data[pos : pos + 2], "big")
        pos += 2
        if pos + n > len(data):
            raise ValueError("truncated entry bundle")
        out.append(data[pos : pos + n])
        pos += n
    return out


def split_hashes(data: bytes, hash_size: int = 32) -> list[bytes]:
    return [data[i : i + hash_size] for i in range(0, len(data), hash_size)]


def pieces(lo: int, hi: int) -> list[tuple[int, int]]:
    """``[lo, hi)`` as the complete, aligned subtrees its RFC 9162 hash is built from, left to right.

    Every range in an inclusion or consistency proof (and ``[0, n)`` itself) starts at a
    multiple of a power of two at least as large as itself, so the pieces are simply the
    binary digits of ``hi - lo``, largest first.
    """
    out = []
    size = hi - lo
    start = lo
    for bit in range(size.bit_length() - 1, -1, -1):
        step = 1 << bit
        if size & step:
            out.append((start, start + step))
            start += step
    return out


def _piece_location(lo: int, hi: int) -> tuple[int, int, int, int]:
    """(tile level, tile index, height inside the tile, node index at that height) of piece [lo, hi)."""
    height = (hi - lo).bit_length() - 1
    level = height // TILE_HEIGHT
    shift = TILE_HEIGHT * level
    first = lo >> shift
    inner = height - shift
    return level, first // TILE_WIDTH, inner, (first % TILE_WIDTH) >> inner


def tiles_needed(ranges: Sequence[tuple[int, int]]) -> set[TileId]:
    """The tiles whose hashes give the hashes of ``ranges``."""
    out = set()
    for lo, hi in ranges:
        for p_lo, p_hi in pieces(lo, hi):
            level, index, _, _ = _piece_location(p_lo, p_hi)
            out.add((level, index))
    return out


class MissingTileError(LookupError):
    def __init__(self, tile: TileId) -> None:
        super().__init__(f"tile {tile[0]}/{tile[1]} is missing or too short")
        self.tile = tile


# Stored tiles (``ledger.models.Tile.hashes``) hold, after the tile's own hashes, its
# complete inner nodes of heights 4..7, each height after the one below: 30 more hashes
# for a full tile. A node of height 1..3 is the root of at most 8 of the tile's own
# hashes and is hashed when needed; anything higher is looked up. A proof thus costs
# a few dozen hashes, while storage grows by only 12 % over the bare tiles.
STORED_INNER = (4, 5, 6, 7)


def tile_node_count(width: int) -> int:
    return width + sum(width >> h for h in STORED_INNER)


_WIDTH_OF_COUNT = {tile_node_count(w): w for w in range(TILE_WIDTH + 1)}


def stored_width(blob: bytes, hash_size: int = 32) -> int:
    """The width of a stored tile; raises ``ValueError`` if its length is not that of any width."""
    count, rest = divmod(len(blob), hash_size)
    width = _WIDTH_OF_COUNT.get(count)
    if rest or width is None:
        raise ValueError("stored tile has an impossible length")
    return width


def tile_hashes(blob: bytes, hash_size: int = 32) -> bytes:
    """The C2SP tile (the tile's own hashes) of a stored tile."""
    return blob[: stored_width(blob, hash_size) * hash_size]


def _pack(own: list[bytes], inner: list[list[bytes]]) -> bytes:
    return b"".join(own) + b"".join(b"".join(level) for level in inner)


def _inner_levels(own: list[bytes], inner: list[list[bytes]], hasher: Hasher) -> bytes | None:
    """Extend the stored inner levels (heights 4..7) to the tile's own hashes, in place.

    Returns the tile's root if it is full.
    """
    node = hasher.node
    h4 = inner[0]
    for j in range(len(h4), len(own) >> 4):
        h4.append(hasher.root(own[16 * j : 16 * j + 16]))
    for k in range(1, len(inner)):
        below, here = inner[k - 1], inner[k]
        for j in range(len(here), len(below) // 2):
            here.append(node(below[2 * j], below[2 * j + 1]))
    top = inner[-1]
    return node(top[0], top[1]) if len(own) == TILE_WIDTH else None


def build_tile(hashes: Sequence[bytes], hasher: Hasher) -> tuple[bytes, bytes | None]:
    """A stored tile from its own hashes, and its root if it is full."""
    own = list(hashes)
    levels = [own]
    for _ in range(TILE_HEIGHT):
        if len(levels[-1]) < 2:
            break
        levels.append(hasher.pairs(levels[-1]))
    inner = [levels[h] if h < len(levels) else [] for h in STORED_INNER]
    root = levels[TILE_HEIGHT][0] if len(own) == TILE_WIDTH else None
    return _pack(own, inner), root


def extend_tile(blob: bytes, hashes: Sequence[bytes], hasher: Hasher) -> tuple[bytes, bytes | None]:
    """A stored partial tile with ``hashes`` appended (only the new inner nodes are hashed)."""
    hs = hasher.size
    width = stored_width(blob, hs)
    own = split_hashes(blob[: width * hs], hs)
    inner = []
    pos = width * hs
    for h in STORED_INNER:
        n = width >> h
        inner.append(split_hashes(blob[pos : pos + n * hs], hs))
        pos += n * hs
    own.extend(hashes)
    if len(own) > TILE_WIDTH:
        raise ValueError("a tile holds at most 256 hashes")
    root = _inner_levels(own, inner, hasher)
    return _pack(own, inner), root


def tile_node(blob: bytes, height: int, index: int, hasher: Hasher) -> bytes | None:
    """The node at ``height`` (0..7) and ``index`` inside a stored tile, if it is complete."""
    hs = hasher.size
    width = stored_width(blob, hs)
    if index >= width >> height:
        return None
    if 0 < height < STORED_INNER[0]:
        lo = (index << height) * hs
        return hasher.root(split_hashes(blob[lo : lo + (hs << height)], hs))
    offset = width if height else 0
    for h in STORED_INNER:
        if h >= height:
            break
        offset += width >> h
    pos = (offset + index) * hs
    return blob[pos : pos + hs]


def node_at_offset(width: int, offset: int) -> tuple[int, int]:
    """(height, index) of the node stored at hash ``offset`` of a stored tile of ``width``."""
    if offset < width:
        return 0, offset
    offset -= width
    for h in STORED_INNER:
        if offset < width >> h:
            return h, offset
        offset -= width >> h
    raise ValueError("offset beyond the stored tile")


def range_hash(lo: int, hi: int, tiles: Mapping[TileId, bytes], hasher: Hasher) -> bytes:
    """MTH(D[lo:hi]) from stored tiles keyed by (level, index): a few lookups and ≤ log n hashes."""
    if hi <= lo:
        return hasher.empty
    out: list[bytes] = []
    for p_lo, p_hi in pieces(lo, hi):
        level, index, inner, j = _piece_location(p_lo, p_hi)
        blob = tiles.get((level, index))
        node = tile_node(blob, inner, j, hasher) if blob is not None else None
        if node is None:
            raise MissingTileError((level, index))
        out.append(node)
    result = out[-1]
    for h in reversed(out[:-1]):
        result = hasher.node(h, result)
    return result


@dataclass
class AppendResult:
    """What appending leaf hashes changed: every touched tile (full or partial) and the new root."""

    tiles: dict[TileId, bytes]
    root: bytes


def append_to_tiles(
    size: int, leaf_hashes: Sequence[bytes], edge: Mapping[TileId, bytes], hasher: Hasher
) -> AppendResult:
    """Append leaf hashes to a tree of ``size`` leaves whose right-edge partial tiles are ``edge``.

    Returns the stored tiles to write: the old partial tiles, extended, and the new tiles.
    A tile that becomes full contributes its root to the level above.
    """
    changed: dict[TileId, bytes] = {}
    new_hashes = list(leaf_hashes)
    level = 0
    while new_hashes:
        count = level_width(size, level)
        index = count // TILE_WIDTH
        have = count % TILE_WIDTH
        completed: list[bytes] = []
        pos = 0
        if have:
            old = edge.get((level, index))
            if old is None or stored_width(old, hasher.size) != have:
                raise MissingTileError((level, index))
            pos = min(TILE_WIDTH - have, len(new_hashes))
            blob, root = extend_tile(old, new_hashes[:pos], hasher)
            changed[(level, index)] = blob
            if root is not None:
                completed.append(root)
            index += 1
        while pos < len(new_hashes):
            blob, root = build_tile(new_hashes[pos : pos + TILE_WIDTH], hasher)
            changed[(level, index)] = blob
            if root is not None:
                completed.append(root)
            pos += TILE_WIDTH
            index += 1
        new_hashes = completed
        level += 1
    new_size = size + len(leaf_hashes)
    edge_data = {t: changed.get(t) or edge[t] for t in edge_tiles(new_size)}
    return AppendResult(changed, range_hash(0, new_size, edge_data, hasher))


class TreeBuilder:
    """Recompute the stored tiles of a log from its leaf hashes, streamed in order (for verification).

    Keeps only the tile being filled at each level, so a verifier's memory stays small.
    :meth:`add` returns every tile that became full, as (level, index, stored tile);
    :meth:`edge` gives the partial ones.
    """

    def __init__(self, hasher: Hasher) -> None:
        self.hasher = hasher
        self.size = 0
        self.levels: list[list[bytes]] = [[]]  # the hashes of the tile being filled at each level
        self.tile_index: list[int] = [0]

    def edge(self) -> dict[TileId, bytes]:
        """The current right-edge partial tiles, as stored tiles."""
        return {
            (level, self.tile_index[level]): build_tile(hashes, self.hasher)[0]
            for level, hashes in enumerate(self.levels)
            if hashes
        }

    def root(self) -> bytes:
        """The root of the leaves added so far (cheap: the partial tiles' pieces only)."""
        if self.size == 0:
            return self.hasher.empty
        out: list[bytes] = []
        for level in range(len(self.levels) - 1, -1, -1):
            hashes = self.levels[level]
            pos = 0
            for bit in range(TILE_HEIGHT - 1, -1, -1):
                step = 1 << bit
                if len(hashes) & step:
                    out.append(self.hasher.root(hashes[pos : pos + step]))
                    pos += step
        result = out[-1]
        for h in reversed(out[:-1]):
            result = self.hasher.node(h, result)
        return result

    def add(self, leaf_hashes: Sequence[bytes]) -> list[tuple[int, int, bytes]]:
        """Add leaf hashes; returns the tiles that became full, as (level, index, stored tile)."""
        full: list[tuple[int, int, bytes]] = []
        pending = list(leaf_hashes)
        self.size += len(pending)
        level = 0
        while pending:
            if level == len(self.levels):
                self.levels.append([])
                self.tile_index.append(0)
            cur = self.levels[level]
            completed: list[bytes] = []
            pos = 0
            while pos < len(pending):
                take = min(TILE_WIDTH - len(cur), len(pending) - pos)
                cur.extend(pending[pos : pos + take])
                pos += take
                if len(cur) == TILE_WIDTH:
                    blob, root = build_tile(cur, self.hasher)
                    assert root is not None
                    full.append((level, self.tile_index[level], blob))
                    completed.append(root)
                    self.tile_index[level] += 1
                    cur = []
            self.levels[level] = cur
            pending = completed
            level += 1
        return full
