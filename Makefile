# tinyrnn: `make demo` (set up, then the main job) and `make test` (set up, then all tests).
# Set-up installs only what is missing: Debian packages via apt-get when root
# (otherwise it prints the one command to run), and a .venv with pinned versions.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.tinyrnn-installed
PYTEST_ARGS ?=

.PHONY: demo test setup system-deps clean

demo: setup
	$(VENV)/bin/tinyrnn demo --out out/demo

test: setup
	$(PY) -m pytest -n 2 $(PYTEST_ARGS)

setup: system-deps $(STAMP)

system-deps:
	@missing=""; \
	command -v arm-none-eabi-gcc >/dev/null || missing="$$missing gcc-arm-none-eabi"; \
	[ -f /usr/lib/arm-none-eabi/lib/libc.a ] || [ -f /usr/lib/arm-none-eabi/newlib/libc.a ] || missing="$$missing libnewlib-arm-none-eabi"; \
	command -v qemu-system-arm >/dev/null || missing="$$missing qemu-system-arm"; \
	command -v clang >/dev/null || missing="$$missing clang"; \
	printf 'int main(void){return 0;}' | clang -fsanitize=address,undefined -x c - -o /dev/null 2>/dev/null || missing="$$missing libclang-rt-14-dev"; \
	command -v chromium >/dev/null || missing="$$missing chromium fonts-dejavu-core"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	  else \
	    echo "missing system packages; run: sudo apt-get update && sudo apt-get install -y$$missing"; exit 1; \
	  fi; \
	fi

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -e .
	touch $(STAMP)

clean:
	rm -rf out build dist *.egg-info
