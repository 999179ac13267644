"""The PromQL the fleet view builds, and what it accepts from the command line."""

from __future__ import annotations

import pytest

from mlfootprint.errors import ConfigError
from mlfootprint.fleet import promql


@pytest.mark.parametrize("text", ["DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", 'vllm:request_success_total{model_name="x"}',
                                  '{__name__=~"node_rapl_(package|dram)_joules_total"}', 'm{a="1",b!="2",c=~"x.*",}'])
def test_selectors_are_accepted(text: str) -> None:
    assert promql.check_selector(text, "--metric") == text


@pytest.mark.parametrize("text", ["", "{}", "rate(x[5m])", "x) or vector(1", 'x{a=1}', 'x{a="1"} + y', "1x"])
def test_anything_but_a_selector_is_refused(text: str) -> None:
    with pytest.raises(ConfigError, match="not a PromQL series selector"):
        promql.check_selector(text, "--metric")


@pytest.mark.parametrize("name", ["1pod", "pod-name", "__name__", "mlfp_alloc", "a b"])
def test_bad_or_reserved_label_names_are_refused(name: str) -> None:
    with pytest.raises(ConfigError):
        promql.check_label(name, "--by")


def test_label_values_are_quoted_as_data() -> None:
    assert promql.quote('a"b\\c\nd') == '"a\\"b\\\\c\\nd"'
    sel = promql.exact_selector('m{zone=~"package.*"}', {"pod": 'x"y', "__name__": "m"}, {"UUID": ["GPU-1", "GPU-2"]})
    assert sel == 'm{zone=~"package.*",__name__="m",pod="x\\"y",UUID=~"GPU\\\\-1|GPU\\\\-2"}'


def test_the_three_passes_and_the_increase_sum() -> None:
    assert promql.end_values("C", 3600) == "last_over_time(C[3599999ms])"  # a < t <= b: no sample in two tiles
    assert promql.counts("C", 3600) == "count_over_time(C[3599999ms])"
    assert promql.flagged("C", 3600, 600) == "resets(C[4200000ms]) > 0"
    assert promql.increases("C", 3600, ["instance"], None) == "sum by (instance, mlfp_alloc) (increase(C[3600000ms]))"
    tagged = promql.increases("C", 3600, ["namespace"], "pod")
    assert tagged == ('sum by (namespace, mlfp_alloc) (label_replace(increase(C[3600000ms]), "mlfp_alloc", "1", '
                      '"pod", ".+"))')
