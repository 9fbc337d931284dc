# stubdom: the device model of GPU guests in a Linux stub domain, built
# from Debian 12's packages only (stubdom/README.md).
#
# `make stubdom` builds build/stubdom/{vmlinuz,stubdom.cpio.gz}; `make
# stubdom-experiment` boots it on the nested bed (stubdom/nested/).  Not
# part of `all` or `check`: with Debian's libxl 4.17, detaching a card
# from a guest whose device model runs in the stub domain fails (issue
# 8 is blocked; the README says where and why), so its scenario would
# fail every run.

.PHONY: stubdom stubdom-experiment
stubdom:
	stubdom/build-image

stubdom-experiment: all stubdom
	XENGPU_SCENARIO_DIR=$(CURDIR)/stubdom/nested tests/nested/run 95-stubdom
