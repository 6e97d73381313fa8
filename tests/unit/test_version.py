"""Every console script says its version like its peers (nova-manage --version):
the installed distribution's, which comes from the repository's tags."""

from __future__ import annotations

from importlib import metadata

import pytest

import lpar_eventd
from lpar_eventd.cmd import daemon, scale, sim


def test_the_package_version_is_the_installed_distributions():
    assert lpar_eventd.__version__ == metadata.version("lpar_eventd")


@pytest.mark.parametrize("main", [daemon.main, sim.main, scale.main],
                         ids=["lpar-eventd", "lpar-eventd-sim", "lpar-eventd-scale"])
def test_version_prints_it_and_exits_0(main, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code in (0, None)
    assert capsys.readouterr().out.strip() == lpar_eventd.__version__
