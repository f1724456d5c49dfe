"""Synthetic but plausible geometry: sub-districts tile the district's bounding box, committees tile
their sub-district, buildings fall inside their committee."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

Polygon = list[list[float]]  # a closed ring of [lon, lat]


@dataclass(frozen=True, slots=True)
class Cell:
    west: float
    south: float
    east: float
    north: float

    @property
    def centroid(self) -> tuple[float, float]:
        return ((self.west + self.east) / 2, (self.south + self.north) / 2)

    def ring(self) -> Polygon:
        return [
            [self.west, self.south],
            [self.east, self.south],
            [self.east, self.north],
            [self.west, self.north],
            [self.west, self.south],
        ]

    def geojson(self) -> dict[str, object]:
        return {"type": "Polygon", "coordinates": [[[round(x, 6), round(y, 6)] for x, y in self.ring()]]}


def split_by_weights(cell: Cell, weights: list[float], rng: np.random.Generator) -> list[Cell]:
    """Split a box into columns of strips whose areas follow the weights, so bigger sub-districts are
    bigger on the map."""
    n = len(weights)
    columns = max(1, round(math.sqrt(n)))
    per_column = [list(range(i, n, columns)) for i in range(columns)]
    total = sum(weights)
    cells: dict[int, Cell] = {}
    west = cell.west
    for members in per_column:
        column_weight = sum(weights[i] for i in members)
        east = west + (cell.east - cell.west) * column_weight / total
        south = cell.south
        for i in members:
            north = south + (cell.north - cell.south) * weights[i] / column_weight
            cells[i] = Cell(west, south, east, north)
            south = north
        west = east
    return [cells[i] for i in range(n)]


def grid(cell: Cell, count: int) -> list[Cell]:
    """Split a box into `count` nearly square cells, row by row."""
    columns = max(1, math.ceil(math.sqrt(count)))
    rows = math.ceil(count / columns)
    width = (cell.east - cell.west) / columns
    height = (cell.north - cell.south) / rows
    cells = []
    for k in range(count):
        r, c = divmod(k, columns)
        # The last row may be short: stretch its cells so the sub-district stays fully covered.
        in_row = columns if r < rows - 1 else count - columns * (rows - 1)
        w = (cell.east - cell.west) / in_row if r == rows - 1 else width
        cells.append(
            Cell(
                cell.west + c * w,
                cell.south + r * height,
                cell.west + (c + 1) * w,
                cell.south + (r + 1) * height,
            )
        )
    return cells


def points_in(cell: Cell, count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Uniform points inside a cell, kept a little off its edges."""
    margin_x = (cell.east - cell.west) * 0.03
    margin_y = (cell.north - cell.south) * 0.03
    lon = rng.uniform(cell.west + margin_x, cell.east - margin_x, count)
    lat = rng.uniform(cell.south + margin_y, cell.north - margin_y, count)
    return np.round(lon, 6), np.round(lat, 6)
