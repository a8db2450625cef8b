"""A real Kafka broker for the integration tests, run by deploy/kafka/kafka.sh.

Each KafkaBroker has its own data directory and free ports (kafka.sh picks them); stop() is
always safe to call. Topics are read back with kcat through `kafka.sh consume` (JSON lines),
so what a test sees is what any Kafka consumer would see.
"""
import json
import pathlib
import shutil
import subprocess
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
KAFKA_SH = ROOT / "deploy" / "kafka" / "kafka.sh"


class KafkaBroker:
    def __init__(self, parent: pathlib.Path | None = None):
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="kafka-", dir=parent))
        self.bootstrap = None

    def _run(self, *args, timeout=120, check=True):
        return subprocess.run([str(KAFKA_SH), *args], capture_output=True, text=True,
                              timeout=timeout, check=check)

    def start(self) -> str:
        try:
            self.bootstrap = self._run("start", "--dir", str(self.dir)).stdout.strip()
        except subprocess.CalledProcessError as e:
            raise RuntimeError(f"kafka.sh start failed: {e.stderr[-2000:]}") from e
        return self.bootstrap

    def kill(self):
        """SIGKILL: an outage. The data stays for restart()."""
        self._run("kill", "--dir", str(self.dir))

    def restart(self) -> str:
        out = self._run("restart", "--dir", str(self.dir)).stdout.strip()
        assert out == self.bootstrap, (out, self.bootstrap)
        return out

    def stop(self, remove=True):
        self._run("stop", "--dir", str(self.dir), check=False)
        if remove:
            shutil.rmtree(self.dir, ignore_errors=True)

    def create_topic(self, name: str, partitions: int = 1):
        self._run("create-topic", "--dir", str(self.dir), name, "--partitions", str(partitions))

    def read(self, topic: str, count: int | None = None, timeout: float = 30) -> list[dict]:
        """Messages of `topic` from the beginning: with `count`, waits until that many arrived
        (fails after `timeout`); without, everything up to the end of each partition. Each is
        kcat's JSON with "value" parsed as JSON and "headers" as a dict."""
        args = ["consume", "--dir", str(self.dir), topic, "--timeout", str(int(timeout))]
        if count is not None:
            args += ["--count", str(count)]
        r = self._run(*args, timeout=timeout + 30, check=False)
        if r.returncode != 0:
            raise AssertionError(f"kafka.sh consume {topic}: {r.stderr.strip()[-1000:]}")
        out = []
        for line in r.stdout.splitlines():
            if not line.strip():
                continue
            m = json.loads(line)
            m["value"] = json.loads(m["value"]) if m.get("value") else None
            h = m.get("headers") or []
            m["headers"] = dict(zip(h[0::2], h[1::2]))
            out.append(m)
        return out

    def read_exactly(self, topic: str, count: int, timeout: float = 30) -> list[dict]:
        """Waits for `count` messages, then checks there are no more after a short settle."""
        first = self.read(topic, count, timeout)
        time.sleep(0.5)
        everything = self.read(topic)
        assert len(everything) == count, f"{topic}: {len(everything)} messages, expected {count}"
        return everything if len(everything) >= len(first) else first
