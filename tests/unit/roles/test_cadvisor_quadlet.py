"""The cadvisor role's Quadlet template: with its defaults it is the runbook's file, byte for byte."""

import configparser

from .conftest import render_role_template

# The runbook's ~/.config/containers/systemd/cadvisor.container (user vagrant, uid 1000).
SEED_QUADLET = """[Unit]
Description=cadvisor
After=local-fs.target

[Container]
ContainerName=cadvisor
Image=gcr.io/cadvisor/cadvisor:v0.52.1
Network=kafkanet.network
PublishPort=9882:8080
Exec=--podman="unix:///run/user/1000/podman/podman.sock"
PodmanArgs=--privileged
Volume=/:/rootfs:ro
Volume=/run/user/1000:/run/user/1000:ro
Volume=/dev/disk/:/dev/disk:ro
Volume=/home/vagrant/.local/share/containers:/var/lib/containers:ro
Volume=/sys/fs/cgroup:/sys/fs/cgroup:ro
Volume=/etc/machine-id:/etc/machine-id:ro

[Service]
Restart=always

[Install]
WantedBy=default.target
"""

# what the role looks up (the _common role's user entry point) for user vagrant on the runbook's VMs
VAGRANT = {
    "_common_user_uid": "1000",
    "_common_user_home": "/home/vagrant",
    "_common_user_runtime_dir": "/run/user/1000",
}


def parse(text):
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read_string(text)
    return parser


def test_defaults_reproduce_the_seed_quadlet_byte_for_byte(tmp_path):
    (text,) = render_role_template(tmp_path, "cadvisor", "cadvisor.container.j2", [VAGRANT])
    assert text == SEED_QUADLET


def test_uid_and_home_follow_the_user(tmp_path):
    (text,) = render_role_template(
        tmp_path,
        "cadvisor",
        "cadvisor.container.j2",
        [{"_common_user_uid": "1001", "_common_user_home": "/srv/alice", "_common_user_runtime_dir": "/run/user/1001"}],
    )
    assert 'Exec=--podman="unix:///run/user/1001/podman/podman.sock"\n' in text
    assert "Volume=/run/user/1001:/run/user/1001:ro\n" in text
    assert "Volume=/srv/alice/.local/share/containers:/var/lib/containers:ro\n" in text
    assert "1000" not in text and "vagrant" not in text
    # only the user-derived lines differ from the seed
    changed = set(text.splitlines()) ^ set(SEED_QUADLET.splitlines())
    assert len(changed) == 6


def test_overrides_image_pull_port_network_and_args(tmp_path):
    lab = dict(
        VAGRANT,
        cadvisor_image="localhost/cadvisor-standin:latest",
        cadvisor_pull="never",
        cadvisor_port=19882,
        cadvisor_publish_address="0.0.0.0",
        cadvisor_network="",
        cadvisor_extra_args=["--housekeeping_interval=5s", "--docker_only=false"],
        cadvisor_podman_args=["--memory=256m"],
        cadvisor_extra_volumes=["/var/log:/var/log:ro"],
    )
    no_privileged = dict(VAGRANT, cadvisor_privileged=False, cadvisor_volumes=["/:/rootfs:ro"])
    lab_text, plain_text = render_role_template(tmp_path, "cadvisor", "cadvisor.container.j2", [lab, no_privileged])

    container = parse(lab_text)["Container"]
    assert container["Image"] == "localhost/cadvisor-standin:latest"
    assert container["Pull"] == "never"
    assert container["PublishPort"] == "0.0.0.0:19882:8080"
    assert "Network" not in container
    assert (
        container["Exec"]
        == '--podman="unix:///run/user/1000/podman/podman.sock" --housekeeping_interval=5s --docker_only=false'
    )
    assert container["PodmanArgs"] == "--privileged --memory=256m"
    # Pull= right after Image=
    lines = lab_text.splitlines()
    assert lines[lines.index("Image=localhost/cadvisor-standin:latest") + 1] == "Pull=never"
    assert lab_text.count("Volume=") == 7 and lab_text.endswith("WantedBy=default.target\n")

    assert "PodmanArgs" not in plain_text
    assert [line for line in plain_text.splitlines() if line.startswith("Volume=")] == ["Volume=/:/rootfs:ro"]
