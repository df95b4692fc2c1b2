#!/usr/bin/env python3
"""The Debian package: scripts/package.sh builds it with dpkg-buildpackage and checks it with
lintian (any error or warning fails), then this test unpacks it into a fresh directory tree and
checks what it installs and with which modes, runs its postinst against stand-in commands (it must
create the system user and the log directory), runs `systemd-analyze verify` on the installed
unit, and starts the installed binary on the installed configuration (moved to free loopback
ports and a writable log and pid path) until it serves.

Compiling the gateway again as dpkg-buildpackage does takes minutes on a 2-core machine, beyond
this suite's budget. So by default debian/rules is handed the binary of this build tree
(RPCGATE_PREBUILT) and only the compile step is skipped: the install rules, debhelper's steps,
the maintainer scripts, the .deb and lintian are the real ones. RPCGATE_PACKAGE_FULL=1 builds the
package from scratch instead (run the script by hand: it needs more than ctest's 300 s)."""

import glob
import gzip
import io
import os
import re
import shutil
import stat
import subprocess
import sys
import tarfile
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import BIN, SOURCE_DIR, RespClient  # noqa: E402

FULL = os.environ.get("RPCGATE_PACKAGE_FULL") == "1"
SERVICE = "lib/systemd/system/rpcgate.service"


class PackageTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        harness.require_binary()
        cls.dir = tempfile.TemporaryDirectory(prefix="rpcgate-pkg-")
        env = dict(os.environ, RPCGATE_PACKAGE_DIR=os.path.join(cls.dir.name, "package"))
        if not FULL:
            env["RPCGATE_PREBUILT"] = os.path.dirname(BIN)
        started = time.monotonic()
        done = subprocess.run([os.path.join(SOURCE_DIR, "scripts", "package.sh")], env=env, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=3600 if FULL else 280)
        cls.build_seconds = time.monotonic() - started
        cls.build_status = done.returncode
        cls.build_output = done.stdout + done.stderr
        lines = done.stdout.strip().splitlines()
        cls.deb = lines[-1] if lines and lines[-1].endswith(".deb") else None
        if cls.build_status != 0 or cls.deb is None:
            return
        cls.root = os.path.join(cls.dir.name, "root")
        cls.control = os.path.join(cls.dir.name, "control")
        subprocess.run(["dpkg-deb", "-x", cls.deb, cls.root], check=True)
        subprocess.run(["dpkg-deb", "-e", cls.deb, cls.control], check=True)
        tar = subprocess.run(["dpkg-deb", "--fsys-tarfile", cls.deb], check=True, capture_output=True).stdout
        with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
            cls.members = {os.path.normpath(m.name): m for m in archive.getmembers()}

    @classmethod
    def tearDownClass(cls):
        cls.dir.cleanup()

    def setUp(self):
        self.assertEqual(self.build_status, 0, "scripts/package.sh failed (exit %d):\n%s"
                         % (self.build_status, self.build_output[-6000:]))
        self.assertIsNotNone(self.deb, "scripts/package.sh printed no .deb:\n%s" % self.build_output[-3000:])

    def test_built_and_lintian_clean(self):
        # package.sh runs lintian --fail-on error,warning on the .changes (and so on the .deb);
        # its exit status is checked in setUp. Each tag line is "X: package...: tag".
        tags = [line for line in self.build_output.splitlines() if re.match(r"^[EWIPX]: rpcgate", line)]
        self.assertEqual([t for t in tags if t[0] in "EW"], [], "lintian errors or warnings")
        print("\npackage built and checked in %.1f s (%s)" % (self.build_seconds, "from scratch" if FULL else
                                                                    "prebuilt binary"), file=sys.stderr)
        with open(os.path.join(SOURCE_DIR, "CMakeLists.txt")) as f:
            version = re.search(r"project\(rpcgate VERSION ([0-9.]+)", f.read()).group(1)
        self.assertIn("rpcgate_%s_" % version, os.path.basename(self.deb),
                      "debian/changelog and CMakeLists.txt disagree on the version")
        for page in ("rpcgate.8", "rpcgate.yaml.5"):
            with open(os.path.join(SOURCE_DIR, "docs", "man", page)) as f:
                self.assertIn('"rpcgate %s"' % version, f.read(), "docs/man/%s names another version" % page)

    def test_files_modes_and_owners(self):
        expected = {
            "usr/sbin/rpcgate": 0o755,
            "etc/rpcgate/rpcgate.yaml": 0o644,
            SERVICE: 0o644,
            "etc/logrotate.d/rpcgate": 0o644,
            "usr/share/man/man8/rpcgate.8.gz": 0o644,
            "usr/share/man/man5/rpcgate.yaml.5.gz": 0o644,
            "usr/share/doc/rpcgate/copyright": 0o644,
            "usr/share/doc/rpcgate/changelog.gz": 0o644,
            "usr/share/doc/rpcgate/operations.md.gz": 0o644,  # dh_compress: documentation over 4 KiB
            "usr/share/doc/rpcgate/configuration.md.gz": 0o644,
            "usr/share/doc/rpcgate/examples/redis-sidecar.yaml": 0o644,
            "usr/share/doc/rpcgate/examples/rpcgate.yaml": 0o644,
        }
        for path, mode in expected.items():
            member = self.members.get(path)
            self.assertIsNotNone(member, "%s is not in the package" % path)
            self.assertTrue(member.isfile(), path)
            self.assertEqual(stat.S_IMODE(member.mode), mode, "%s has mode %o" % (path, stat.S_IMODE(member.mode)))
            self.assertEqual((member.uname, member.gname), ("root", "root"), path)
        # Nothing the tests or benchmarks build is shipped.
        self.assertEqual([p for p in self.members if p.startswith("usr/bin")], [])
        with open(os.path.join(self.control, "conffiles")) as f:
            conffiles = f.read().split()
        self.assertIn("/etc/rpcgate/rpcgate.yaml", conffiles)
        self.assertIn("/etc/logrotate.d/rpcgate", conffiles)
        with open(os.path.join(SOURCE_DIR, "conf", "production.yaml")) as f, \
                open(os.path.join(self.root, "etc/rpcgate/rpcgate.yaml")) as g:
            self.assertEqual(f.read(), g.read(), "/etc/rpcgate/rpcgate.yaml is not conf/production.yaml")
        fields = subprocess.run(["dpkg-deb", "-f", self.deb, "Depends"], check=True, capture_output=True,
                                text=True).stdout
        for needed in ("adduser", "libuv1", "libyaml-cpp"):
            self.assertIn(needed, fields)

    def test_man_pages_render_without_warnings(self):
        for page in ("usr/share/man/man8/rpcgate.8.gz", "usr/share/man/man5/rpcgate.yaml.5.gz"):
            with gzip.open(os.path.join(self.root, page)) as f:
                source = f.read()
            done = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z"], input=source, capture_output=True)
            self.assertEqual((done.returncode, done.stderr), (0, b""), page)

    def test_logrotate_reopens_through_the_master(self):
        with open(os.path.join(self.root, "etc/logrotate.d/rpcgate")) as f:
            text = f.read()
        self.assertIn("/var/log/rpcgate/*.log", text)
        self.assertRegex(text, r"postrotate\s[^}]*\n\s*systemctl kill --signal=USR1 --kill-whom=main rpcgate.service")
        self.assertIn("create 0640 rpcgate adm", text)

    def run_maintainer_script(self, name, *args):
        """Runs the package's `name` script with every command it calls replaced by a stand-in
        that records its arguments (nothing on this machine is changed); returns the calls."""
        stubs = tempfile.mkdtemp(dir=self.dir.name)
        calls = os.path.join(stubs, "calls")
        for command in ("adduser", "install", "chown", "chmod", "rm", "dpkg-statoverride", "deb-systemd-helper",
                        "deb-systemd-invoke", "systemctl", "dpkg", "getent", "mkdir"):
            with open(os.path.join(stubs, command), "w") as f:
                # dpkg-statoverride --list: no override; the rest succeed.
                f.write('#!/bin/sh\necho "%s $*" >> "%s"\n%s\n'
                        % (command, calls, "exit 1" if command == "dpkg-statoverride" else "exit 0"))
            os.chmod(os.path.join(stubs, command), 0o755)
        done = subprocess.run(["/bin/sh", "-e", os.path.join(self.control, name)] + list(args),
                              env={"PATH": stubs}, capture_output=True, text=True, timeout=30)
        self.assertEqual(done.returncode, 0, "%s %s: %s" % (name, " ".join(args), done.stderr))
        with open(calls) as f:
            return f.read().splitlines()

    def test_postinst_creates_the_user_and_the_log_directory(self):
        calls = self.run_maintainer_script("postinst", "configure", "")
        adduser = [c for c in calls if c.startswith("adduser ")]
        self.assertEqual(len(adduser), 1, calls)
        self.assertIn("--system", adduser[0])
        self.assertTrue(adduser[0].endswith(" rpcgate"), adduser[0])
        self.assertIn("install -d -o rpcgate -g adm -m 2750 /var/log/rpcgate", calls)
        # debhelper's part: the unit is enabled.
        self.assertTrue(any(c.startswith("deb-systemd-helper") and "rpcgate.service" in c for c in calls), calls)
        purge = self.run_maintainer_script("postrm", "purge")
        self.assertIn("rm -rf /var/log/rpcgate", purge)

    def test_systemd_analyze_verify(self):
        # The unit is checked inside a root made of the package's tree plus what it relies on from
        # the base system, copied from this host: systemd's own targets and /bin/kill. So its
        # ExecStart= and ExecStartPre= must name the binary the package installs.
        verify_root = os.path.join(self.dir.name, "verify-root")
        shutil.copytree(self.root, verify_root, symlinks=True)
        units = os.path.join(verify_root, "lib/systemd/system")
        for unit in glob.glob("/lib/systemd/system/*.target") + glob.glob("/lib/systemd/system/*.slice"):
            if not os.path.exists(os.path.join(units, os.path.basename(unit))):
                shutil.copy(unit, units)
        os.makedirs(os.path.join(verify_root, "bin"), exist_ok=True)
        shutil.copy(shutil.which("kill", path="/bin:/usr/bin"), os.path.join(verify_root, "bin/kill"))
        env = dict(os.environ, MANPATH=os.path.join(self.root, "usr/share/man"))
        done = subprocess.run(["systemd-analyze", "verify", "--root=" + verify_root, "--man=yes", "rpcgate.service"],
                              capture_output=True, text=True, env=env, timeout=60)
        self.assertEqual((done.returncode, done.stdout + done.stderr), (0, ""), "systemd-analyze verify")
        # It must fail when the unit names a binary the package lacks.
        os.unlink(os.path.join(verify_root, "usr/sbin/rpcgate"))
        done = subprocess.run(["systemd-analyze", "verify", "--root=" + verify_root, "--man=no", "rpcgate.service"],
                              capture_output=True, text=True, timeout=60)
        self.assertNotEqual(done.returncode, 0)
        self.assertIn("/usr/sbin/rpcgate", done.stderr)

    def test_unit_settings(self):
        with open(os.path.join(self.root, SERVICE)) as f:
            settings = [line.strip() for line in f if re.match(r"^\w+=", line)]
        for wanted in ("Type=notify", "NotifyAccess=main", "User=rpcgate",
                       "ExecStartPre=/usr/sbin/rpcgate -t -c /etc/rpcgate/rpcgate.yaml",
                       "ExecStart=/usr/sbin/rpcgate -c /etc/rpcgate/rpcgate.yaml",
                       "ExecReload=/bin/kill -HUP $MAINPID", "Restart=on-failure", "KillMode=mixed",
                       "NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes",
                       "PrivateDevices=yes", "ReadWritePaths=/var/log/rpcgate", "RuntimeDirectory=rpcgate",
                       "CapabilityBoundingSet="):
            self.assertIn(wanted, settings)

    def test_installed_binary_serves_the_installed_config(self):
        binary = os.path.join(self.root, "usr/sbin/rpcgate")
        installed = os.path.join(self.root, "etc/rpcgate/rpcgate.yaml")
        done = subprocess.run([binary, "-t", "-c", installed], capture_output=True, text=True, timeout=10)
        self.assertEqual(done.returncode, 0, "the installed config does not check: %s" % done.stderr)
        # Only what must change to run here: free loopback ports, and a writable log and pid path.
        with open(installed) as f:
            text = f.read()
        ports = sorted(set(int(p) for p in re.findall(r"127\.0\.0\.1:(\d+)", text)))
        moved = dict(zip(ports, harness.free_ports(len(ports))))
        text = re.sub(r"127\.0\.0\.1:(\d+)", lambda m: "127.0.0.1:%d" % moved[int(m.group(1))], text)
        work = os.path.join(self.dir.name, "run")
        os.makedirs(work)
        text = text.replace("/var/log/rpcgate/", work + "/").replace("/run/rpcgate/", work + "/")
        self.assertNotIn("/var/log", text)
        config = os.path.join(work, "rpcgate.yaml")
        with open(config, "w") as f:
            f.write(text)
        proc = subprocess.Popen([binary, "-c", config], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, cwd=work)
        try:
            harness.wait_listening(moved.values(), proc, describe="the installed rpcgate")
            with RespClient(moved[6380]) as client:
                self.assertEqual(client.call("PING"), "PONG")
            import http.client
            deadline = time.monotonic() + 10
            while True:
                connection = http.client.HTTPConnection(harness.LOOPBACK, moved[9901], timeout=harness.IO_TIMEOUT)
                connection.request("GET", "/readyz")
                status = connection.getresponse().status
                connection.close()
                if status == 200 or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            self.assertEqual(status, 200, "/readyz of the installed gateway")
            with open(os.path.join(work, "rpcgate.log")) as f:
                self.assertIn("serving as worker 0", f.read())
            # The pid file the installed config names works for -s.
            done = subprocess.run([binary, "-s", "stop", "-c", config], capture_output=True, text=True, timeout=10)
            self.assertEqual(done.returncode, 0, done.stderr)
            self.assertEqual(proc.wait(timeout=15), 0)
        finally:
            harness.stop_process(proc)

    @unittest.skipUnless(FULL, "the prebuilt binary was configured with this build tree's install prefix")
    def test_installed_binary_reads_etc_by_default(self):
        done = subprocess.run([os.path.join(self.root, "usr/sbin/rpcgate"), "--help"], capture_output=True, text=True)
        self.assertIn("Default: /etc/rpcgate/rpcgate.yaml when run as the\n                        installed /usr/sbin/rpcgate;",
                      done.stdout)


if __name__ == "__main__":
    harness.main()
