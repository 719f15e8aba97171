from __future__ import annotations

import numpy as np

from daemon.sources.alignment import SeriesTable, align, counter_rates, grid_between, series_key
from daemon.sources.base import RawSeries
from daemon.sources.prometheus import chunk_ranges


def raw(labels: dict[str, str], ts: list[float], values: list[float]) -> RawSeries:
    return RawSeries(labels, np.array(ts, dtype=float), np.array(values, dtype=float))


def test_series_key_ignores_label_order() -> None:
    assert series_key({"a": "1", "b": "2"}) == series_key({"b": "2", "a": "1"})
    assert series_key({"a": "1"}) != series_key({"a": "2"})


def test_grid_is_step_multiples_inside_the_range() -> None:
    assert grid_between(5, 42, 10).tolist() == [10, 20, 30, 40]
    assert grid_between(41, 42, 10).tolist() == []


def test_align_scatters_missing_nan_and_off_grid_points() -> None:
    table = SeriesTable()
    grid = grid_between(0, 40, 10)
    matrix = align(
        [raw({"pod": "a"}, [0, 10, 31], [1, np.inf, 3]), raw({"pod": "b"}, [20, 40, 50], [5, np.nan, 9])],
        grid,
        10,
        table,
    )
    np.testing.assert_array_equal(matrix[0], [1, np.nan, np.nan, 3, np.nan])
    np.testing.assert_array_equal(matrix[1], [np.nan, np.nan, 5, np.nan, np.nan])
    assert table.last_seen.tolist() == [30, 20]


def test_series_appear_keep_their_rows() -> None:
    table = SeriesTable()
    align([raw({"pod": "a"}, [10], [1])], grid_between(10, 10, 10), 10, table)
    matrix = align([raw({"pod": "b"}, [20], [2]), raw({"pod": "a"}, [20], [3])], grid_between(20, 20, 10), 10, table)
    assert [lab["pod"] for lab in table.labels] == ["a", "b"]
    assert matrix[:, 0].tolist() == [3, 2]


def test_counter_rates_survive_resets_gaps_and_carry_between_calls() -> None:
    grid = grid_between(0, 40, 10)
    values = np.array([[10.0, 20, np.nan, 5, 15]])
    rates, last_value, last_ts = counter_rates(values, grid, np.array([5.0]), np.array([-10.0]))
    np.testing.assert_allclose(rates[0], [0.5, 1.0, np.nan, 0.25, 1.0])
    assert last_value.tolist() == [15] and last_ts.tolist() == [40]
    more, _, _ = counter_rates(np.array([[25.0]]), grid_between(50, 50, 10), last_value, last_ts)
    assert more.tolist() == [[1.0]]


def test_counter_without_history_has_no_first_rate() -> None:
    rates, _, _ = counter_rates(np.array([[3.0, 4.0]]), grid_between(0, 10, 10), np.array([np.nan]), np.array([np.nan]))
    assert np.isnan(rates[0, 0]) and rates[0, 1] == 0.1


def test_chunks_stay_under_the_point_limit_and_cover_the_grid() -> None:
    chunks = chunk_ranges(0, 25000, 1, 11000)
    assert chunks == [(0, 10999), (11000, 21999), (22000, 25000)]
    assert chunk_ranges(0, 100, 10, 11000) == [(0, 100)]
    assert chunk_ranges(10, 0, 1, 11000) == []


def test_raw_counter_selectors_read_only_fresh_samples() -> None:
    from daemon.pipeline import effective_promql
    from daemon.settings import QuerySettings

    counter = QuerySettings(name="r", promql='http_requests_total{job="x"}', kind="counter")
    assert effective_promql(counter, 10) == 'last_over_time(http_requests_total{job="x"}[9999ms])'
    expression = QuerySettings(name="r", promql="sum(http_requests_total)", kind="counter")
    assert effective_promql(expression, 10) == "sum(http_requests_total)"
    gauge = QuerySettings(name="g", promql="up")
    assert effective_promql(gauge, 10) == "up"
