# Builds hirebridge and installs it as a systemd service (see README.md, "Install as a service").
# Build as yourself, install as root:   make && sudo make install
# Staged installs (packaging):          make install DESTDIR=/tmp/stage

PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
DOCDIR     ?= $(PREFIX)/share/doc/hirebridge
UNITDIR    ?= /etc/systemd/system
CONFDIR    ?= /etc/hirebridge
TARGET_DIR ?= $(or $(CARGO_TARGET_DIR),target)
CARGO      ?= cargo
BINARY      = $(TARGET_DIR)/release/hirebridge

.PHONY: all build install uninstall

all: build

build:
	$(CARGO) build --release --locked

# Does not build: root often has no Rust toolchain, and installing must not compile as root.
install:
	@test -x $(BINARY) || { echo "no $(BINARY): run 'make' first (as yourself), then 'sudo make install'"; exit 1; }
	install -D -m 0755 $(BINARY) $(DESTDIR)$(BINDIR)/hirebridge
	@# The units name /usr/local/bin/hirebridge; follow BINDIR if it was changed.
	install -d -m 0755 $(DESTDIR)$(UNITDIR)
	sed 's|/usr/local/bin/hirebridge|$(BINDIR)/hirebridge|g' systemd/hirebridge.service > $(DESTDIR)$(UNITDIR)/hirebridge.service
	sed 's|/usr/local/bin/hirebridge|$(BINDIR)/hirebridge|g' systemd/hirebridge@.service > $(DESTDIR)$(UNITDIR)/hirebridge@.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/hirebridge.service $(DESTDIR)$(UNITDIR)/hirebridge@.service
	install -d -m 0755 $(DESTDIR)$(CONFDIR)
	install -d -m 0700 $(DESTDIR)$(CONFDIR)/credentials
	@# Never overwrite an operator's config. It holds no secrets and must be readable by the
	@# service's dynamic user, hence 0644.
	test -e $(DESTDIR)$(CONFDIR)/config.toml || install -m 0644 config.toml $(DESTDIR)$(CONFDIR)/config.toml
	install -D -m 0644 README.md $(DESTDIR)$(DOCDIR)/README.md
	@echo
	@echo "Installed. Next (README.md, 'Install as a service'):"
	@echo "  1. edit $(CONFDIR)/config.toml (the *_file keys, site, ledger.path under /var/lib/hirebridge)"
	@echo "  2. put the three secrets in $(CONFDIR)/credentials/ (mode 0600, owned by root)"
	@echo "  3. systemctl daemon-reload && systemctl enable --now hirebridge"

# Leaves the config, the credentials and the ledger (/var/lib/hirebridge) in place.
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/hirebridge
	rm -f $(DESTDIR)$(UNITDIR)/hirebridge.service $(DESTDIR)$(UNITDIR)/hirebridge@.service
	rm -rf $(DESTDIR)$(DOCDIR)
