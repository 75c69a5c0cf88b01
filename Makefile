# contiv-rs — the two commands users need are `make demo` and `make test`.
SHELL := /bin/bash
CARGO ?= cargo
export CARGO_TERM_COLOR ?= never

.PHONY: deps build test fmt-check clippy unit publish-check features-check demo bench clean

## deps: install missing system packages (idempotent)
deps:
	@./scripts/deps.sh

## build: compile everything
build: deps
	$(CARGO) build --workspace --all-targets

fmt-check:
	$(CARGO) fmt --all --check

clippy:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

unit:
	$(CARGO) test --workspace --no-fail-fast

## publish-check: package metadata, `cargo publish --dry-run` of every
## library crate in dependency order, `cargo doc` with -D warnings
## (scripts/check-publish.sh; PUBLISH_VERIFY=1 also builds each package)
publish-check:
	CARGO="$(CARGO)" ./scripts/check-publish.sh

## features-check: each daemon of contiv-bins builds alone (cargo features
## `netmaster`, `netplugin`, `cni`, `netctl`), so an embedder can take the
## agent without the control plane and the reverse (issue 18.3)
features-check:
	for f in netmaster netplugin cni netctl; do \
	  $(CARGO) check -q -p contiv-bins --no-default-features --features $$f || exit 1; \
	done

## test: deps, format check, clippy -D warnings, the whole test suite, the
## publish/doc check, the daemons' features one by one
test: deps fmt-check clippy unit publish-check features-check

## demo: the seed tutorial on one machine: netmaster (embedded store), a
## private OVS (userspace datapath) — or the eBPF datapath with
## DATAPATH=ebpf — netplugin, containers attached through contiv-cni;
## prints every step with ✔/✘ and cleans up (scripts/demo.sh)
demo: deps
	$(CARGO) build -q -p contiv-bins --bins
	./scripts/demo.sh

## demo-cluster: the seeds' two-node walk-through (quick start, tutorial
## chapters 2, 3, 4 (VLAN) and 5) on two namespace hosts, each with its own
## OVS (or eBPF datapath, DATAPATH=ebpf) and netplugin; checks every step
## and cleans up (scripts/demo-cluster.sh)
.PHONY: demo-cluster
demo-cluster: deps
	$(CARGO) build -q -p contiv-bins --bins
	BIN_DIR=target/debug ./scripts/demo-cluster.sh

## bench: every bench (numbers go to BENCHMARKS.md); the CNI and cluster
## benches run the release daemons, so those are built first
bench: deps
	$(CARGO) build --release -p contiv-bins --bins
	$(CARGO) bench -p contiv-store -p contiv-benches

clean:
	$(CARGO) clean
