"""The OpenBao backend against a real `bao server -dev`: auth, KV v2 versions, KV v1, policies,
namespaces, TLS, renewal, caching, masking, and a server that goes away mid-way."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import hvac
import pytest

from nosana_node.errors import SecretError
from nosana_node.secrets.masking import MASK, process_masker
from nosana_node.secrets.refs import SecretRef
from nosana_node.secrets.value import Secret
from nosana_node.vault.openbao import OpenBaoVault
from tests.vault.bao import BaoServer
from tests.vault.conftest import vault_config

pytestmark = pytest.mark.openbao


def ref(text: str) -> SecretRef:
    return SecretRef.parse(text)


def test_token_auth_write_read_resolve_list_delete(bao: BaoServer, prefix: str) -> None:
    with OpenBaoVault(vault_config(bao)) as vault:
        assert vault.write(f"{prefix}/db", {"user": "app", "password": "pw-token-auth-1"}) == 1
        assert vault.write(f"{prefix}/api", {"token": "single-valued-api-token"}) == 1
        assert vault.resolve(ref(f"{prefix}/db#password")) == "pw-token-auth-1"
        assert vault.resolve(ref(f"{prefix}/api")) == "single-valued-api-token"
        assert vault.read(f"{prefix}/db") == {"user": "app", "password": "pw-token-auth-1"}
        assert vault.list(prefix) == ["api", "db"]
        assert f"{prefix}/" in vault.list("")
        vault.delete(f"{prefix}/api")
        with pytest.raises(SecretError, match=rf"^secret {prefix}/api: not found"):
            vault.resolve(ref(f"{prefix}/api"))
    # the server really holds what we wrote
    stored = bao.client().secrets.kv.v2.read_secret_version(
        path=f"{prefix}/db", raise_on_deleted_version=True
    )
    assert stored["data"]["data"]["password"] == "pw-token-auth-1"


def test_resolve_errors_name_the_reference(bao: BaoServer, prefix: str) -> None:
    with OpenBaoVault(vault_config(bao)) as vault:
        vault.write(f"{prefix}/multi", {"a": "value-of-a-123", "b": "value-of-b-456"})
        with pytest.raises(SecretError) as exc:
            vault.resolve(ref(f"{prefix}/multi"))
        assert str(exc.value) == (
            f"secret {prefix}/multi: {prefix}/multi holds 2 keys (a, b); name one as {prefix}/multi#KEY"
        )
        with pytest.raises(SecretError, match=r"no key 'c' at .* \(keys: a, b\)"):
            vault.resolve(ref(f"{prefix}/multi#c"))
        with pytest.raises(SecretError) as missing:
            vault.resolve(ref(f"{prefix}/missing#k"))
        assert (
            str(missing.value)
            == f"secret {prefix}/missing#k: not found at secret/{prefix}/missing in {vault.describe()}"
        )
        assert vault.describe() == f"vault {bao.addr} (kv v2)"
        for bad in ("../sys/policy", "a//b", "", "a/./b", "a b"):
            with pytest.raises(SecretError, match="invalid secret path"):
                vault.resolve(SecretRef(path=bad, key=None))


def test_kv2_versions(bao: BaoServer, prefix: str) -> None:
    path = f"{prefix}/versioned"
    with OpenBaoVault(vault_config(bao)) as vault:
        for n in (1, 2, 3):
            assert vault.write(path, {"v": f"value-version-{n}"}) == n
        assert vault.resolve(ref(f"{path}#v")) == "value-version-3"
        assert vault.read(path, version=1) == {"v": "value-version-1"}
        assert vault.read(path, version=2) == {"v": "value-version-2"}
        with pytest.raises(SecretError, match="not found"):
            vault.read(path, version=9)
        vault.delete(path)  # soft-deletes version 3
        with pytest.raises(SecretError, match=rf"secret {path}#v: not found"):
            vault.resolve(ref(f"{path}#v"))
        assert vault.read(path, version=2) == {"v": "value-version-2"}  # older versions remain
        bao.client().secrets.kv.v2.undelete_secret_versions(path=path, versions=[3])
        assert vault.resolve(ref(f"{path}#v")) == "value-version-3"
        vault.delete(path, all_versions=True)
        with pytest.raises(SecretError, match="not found"):
            vault.read(path, version=1)
        with pytest.raises(SecretError, match="not found"):
            vault.delete(path)  # rm of something absent says so


def test_kv1_mount(bao: BaoServer, prefix: str) -> None:
    with OpenBaoVault(vault_config(bao, mount="kv1", kv_version=1)) as vault:
        assert vault.write(f"{prefix}/app", {"key": "kv-one-value-xyz"}) is None
        stored = bao.client().secrets.kv.v1.read_secret(path=f"{prefix}/app", mount_point="kv1")
        assert stored["data"] == {"key": "kv-one-value-xyz"}
        assert vault.resolve(ref(f"{prefix}/app#key")) == "kv-one-value-xyz"
        assert vault.list(prefix) == ["app"]
        with pytest.raises(SecretError, match="keeps no versions"):
            vault.read(f"{prefix}/app", version=1)
        vault.delete(f"{prefix}/app")
        with pytest.raises(SecretError, match="not found"):
            vault.resolve(ref(f"{prefix}/app#key"))


def test_approle_auth(bao: BaoServer, prefix: str) -> None:
    bao.policy(f"{prefix}-read", f'path "secret/data/{prefix}/*" {{ capabilities = ["read"] }}')
    bao.client().secrets.kv.v2.create_or_update_secret(
        path=f"{prefix}/ci", secret={"token": "approle-read-value"}
    )
    role_id, secret_id = bao.approle(f"{prefix}-role", [f"{prefix}-read"])
    cfg = vault_config(bao, auth="approle", token=None, role_id=role_id, secret_id=Secret(secret_id))
    with OpenBaoVault(cfg) as vault:
        assert vault.resolve(ref(f"{prefix}/ci#token")) == "approle-read-value"
        assert vault.logins == 1
        # the role can read, not write
        with pytest.raises(SecretError, match="permission denied"):
            vault.write(f"{prefix}/ci", {"token": "x"})
    bad = vault_config(
        bao, auth="approle", token=None, role_id=role_id, secret_id=Secret("wrong-secret-id-000")
    )
    with OpenBaoVault(bad) as vault, pytest.raises(SecretError) as exc:
        vault.resolve(ref(f"{prefix}/ci#token"))
    assert "AppRole login" in str(exc.value) and "refused" in str(exc.value)
    assert "wrong-secret-id-000" not in str(exc.value)


def test_path_without_permission(bao: BaoServer, prefix: str) -> None:
    bao.policy(f"{prefix}-only-a", f'path "secret/data/{prefix}/a" {{ capabilities = ["read"] }}')
    admin = bao.client().secrets.kv.v2
    admin.create_or_update_secret(path=f"{prefix}/a", secret={"k": "allowed-value-1"})
    admin.create_or_update_secret(path=f"{prefix}/b", secret={"k": "forbidden-value-2"})
    token = bao.token([f"{prefix}-only-a"])
    with OpenBaoVault(vault_config(bao, token=Secret(token))) as vault:
        assert vault.resolve(ref(f"{prefix}/a#k")) == "allowed-value-1"
        with pytest.raises(SecretError) as exc:
            vault.resolve(ref(f"{prefix}/b#k"))
    message = str(exc.value)
    assert message == (
        f"secret {prefix}/b#k: permission denied to secret/{prefix}/b by vault {bao.addr} (kv v2)"
        " (the token's policy does not allow it)"
    )
    assert "forbidden-value-2" not in message and token not in message


def test_revoked_token(bao: BaoServer, prefix: str) -> None:
    token = bao.token(["default"])
    bao.client().auth.token.revoke(token)
    with OpenBaoVault(vault_config(bao, token=Secret(token))) as vault, pytest.raises(SecretError) as exc:
        vault.resolve(ref(f"{prefix}/x#k"))
    assert (
        str(exc.value)
        == f"secret {prefix}/x#k: {bao.addr} refused the vault token (expired, revoked or wrong)"
    )
    assert token not in str(exc.value)


def test_server_stopped_mid_way(bao_own: BaoServer, prefix: str) -> None:
    bao_own.client().secrets.kv.v2.create_or_update_secret(
        path=f"{prefix}/s", secret={"k": "before-the-stop"}
    )
    vault = OpenBaoVault(vault_config(bao_own, timeout=2.0))
    assert vault.resolve(ref(f"{prefix}/s#k")) == "before-the-stop"
    bao_own.stop()
    started = time.monotonic()
    with pytest.raises(SecretError) as exc:
        vault.resolve(ref(f"{prefix}/s#k"))
    assert time.monotonic() - started < 10
    assert (
        str(exc.value)
        == f"secret {prefix}/s#k: vault {bao_own.addr} is unreachable (connection refused or lost)"
    )
    with pytest.raises(SecretError, match="unreachable"):
        vault.list("")
    vault.close()


def test_unreachable_from_the_start(bao_own: BaoServer) -> None:
    address = bao_own.addr
    bao_own.stop()
    with OpenBaoVault(vault_config(bao_own, timeout=2.0)) as vault, pytest.raises(SecretError) as exc:
        vault.resolve(ref("any/path#k"))
    assert str(exc.value) == f"secret any/path#k: vault {address} is unreachable (connection refused or lost)"


def test_namespace(bao: BaoServer, prefix: str) -> None:
    ns = f"ns{prefix[2:]}"
    bao.client().sys.create_namespace(ns)
    inside = bao.client(namespace=ns)
    inside.sys.enable_secrets_engine("kv", path="secret", options={"version": "2"})
    inside.secrets.kv.v2.create_or_update_secret(path="team/db", secret={"pw": "namespaced-value"})
    with OpenBaoVault(vault_config(bao, namespace=ns)) as vault:
        assert vault.resolve(ref("team/db#pw")) == "namespaced-value"
        assert "namespace" in vault.describe()
    with OpenBaoVault(vault_config(bao)) as vault, pytest.raises(SecretError, match="not found"):
        vault.resolve(ref("team/db#pw"))  # not visible from the root namespace


def test_path_prefix_confines_references(bao: BaoServer, prefix: str) -> None:
    bao.client().secrets.kv.v2.create_or_update_secret(
        path=f"{prefix}/ci/npm", secret={"t": "prefixed-npm-token"}
    )
    with OpenBaoVault(vault_config(bao, path_prefix=f"{prefix}/ci")) as vault:
        assert vault.resolve(ref("npm#t")) == "prefixed-npm-token"
        assert vault.list("") == ["npm"]
        with pytest.raises(SecretError, match="invalid secret path"):
            vault.resolve(ref("../other#t"))


def test_read_values_are_masked_and_resolved_ones_left_to_the_caller(bao: BaoServer, prefix: str) -> None:
    value = f"masked-after-read-{prefix}"
    bao.client().secrets.kv.v2.create_or_update_secret(path=f"{prefix}/m", secret={"k": value, "n": 12345678})
    resolved = f"resolved-for-one-flow-{prefix}"
    bao.client().secrets.kv.v2.create_or_update_secret(path=f"{prefix}/r", secret={"k": resolved})
    assert process_masker().mask(value) == value  # not known before
    with OpenBaoVault(vault_config(bao)) as vault:
        assert vault.read(f"{prefix}/m") == {"k": value, "n": "12345678"}  # non-strings come as JSON text
        assert vault.resolve(ref(f"{prefix}/r#k")) == resolved
    assert process_masker().mask(f"log: {value}") == f"log: {MASK}"  # a command read it: masked for good
    assert process_masker().mask("12345678") == MASK  # the other key of the same read too
    # a value resolved for an op is registered by the flow, in its own scope (gone after the flow)
    assert process_masker().mask(resolved) == resolved


def test_no_cache_by_default_and_ttl_cache(bao: BaoServer, prefix: str) -> None:
    admin = bao.client().secrets.kv.v2
    path = f"{prefix}/c"
    admin.create_or_update_secret(path=path, secret={"k": "first-cached-value"})
    with OpenBaoVault(vault_config(bao)) as vault:
        assert vault.resolve(ref(f"{path}#k")) == "first-cached-value"
        admin.create_or_update_secret(path=path, secret={"k": "second-fresh-value"})
        assert vault.resolve(ref(f"{path}#k")) == "second-fresh-value"  # resolved per call
    now = [1000.0]
    with OpenBaoVault(vault_config(bao, cache_ttl=1.0)) as vault:
        vault.clock = lambda: now[0]  # the cache's clock, moved by hand
        assert vault.resolve(ref(f"{path}#k")) == "second-fresh-value"
        admin.create_or_update_secret(path=path, secret={"k": "third-value-later"})
        now[0] += 0.999
        assert vault.resolve(ref(f"{path}#k")) == "second-fresh-value"  # within the TTL
        now[0] += 0.001
        assert vault.resolve(ref(f"{path}#k")) == "third-value-later"  # the TTL is over: read again


def test_token_renewal(bao: BaoServer, prefix: str) -> None:
    """Renewed once half the TTL is gone on the vault's clock (moved by hand); the server renews."""
    bao.client().secrets.kv.v2.create_or_update_secret(path=f"{prefix}/r", secret={"k": "renewed-read"})
    token = bao.token(["root"], ttl="30s", renewable=True, explicit_max_ttl="600s")
    now = [1000.0]
    with OpenBaoVault(vault_config(bao, token=Secret(token))) as vault:
        vault.clock = lambda: now[0]
        assert vault.resolve(ref(f"{prefix}/r#k")) == "renewed-read"  # logged in at 1000: expires ~1030
        assert bao.client().auth.token.lookup(token)["data"].get("last_renewal_time") in (None, 0)
        now[0] += 10.0  # more than half of the TTL left: no renewal
        assert vault.resolve(ref(f"{prefix}/r#k")) == "renewed-read"
        assert vault.renewals == 0
        for n in (1, 2, 3):  # half of the TTL gone, each time from the last renewal
            now[0] += 15.5
            assert vault.resolve(ref(f"{prefix}/r#k")) == "renewed-read"
            assert vault.renewals == n
        assert vault.logins == 1
    data = bao.client().auth.token.lookup(token)["data"]
    assert data.get("last_renewal_time")  # the server renewed it
    assert 0 < data["ttl"] <= 30


def _approle_vault(bao: BaoServer, prefix: str, name: str, **ttls: str) -> OpenBaoVault:
    """A vault logging in with a role of its own that may read ``<prefix>/<name>`` (``relogin-value``)."""
    bao.policy(f"{prefix}-r", f'path "secret/data/{prefix}/*" {{ capabilities = ["read"] }}')
    bao.client().secrets.kv.v2.create_or_update_secret(path=f"{prefix}/{name}", secret={"k": "relogin-value"})
    role_id, secret_id = bao.approle(f"{prefix}-{name}", [f"{prefix}-r"], **ttls)
    cfg = vault_config(bao, auth="approle", token=None, role_id=role_id, secret_id=Secret(secret_id))
    return OpenBaoVault(cfg)


def test_approle_logs_in_again_when_renewal_is_refused(bao: BaoServer, prefix: str) -> None:
    """A token the server no longer renews (revoked here) is replaced by a new AppRole login."""
    now = [1000.0]
    with _approle_vault(bao, prefix, "y", token_ttl="60s", token_max_ttl="9m") as vault:
        vault.clock = lambda: now[0]
        assert vault.resolve(ref(f"{prefix}/y#k")) == "relogin-value"
        assert vault._token is not None
        bao.client().auth.token.revoke(vault._token.reveal())
        now[0] += 31.0  # past half of the TTL: renewal is tried, refused, and the node logs in again
        assert vault.resolve(ref(f"{prefix}/y#k")) == "relogin-value"
        assert (vault.logins, vault.renewals) == (2, 0)


@pytest.mark.slow
def test_approle_logs_in_again_at_max_ttl(bao: BaoServer, prefix: str) -> None:
    """At its max TTL a renewal hardly extends the token: the node logs in again.

    The max TTL is counted by the server's clock, which no test can move: this test waits (on a
    condition, with a deadline) until the server says less than a second of the token is left
    (a renewal then grants at most that second; a token gone meanwhile is refused: either way
    the node logs in again).
    """
    now = [1000.0]
    with _approle_vault(bao, prefix, "x", token_ttl="4s", token_max_ttl="4s") as vault:
        vault.clock = lambda: now[0]
        assert vault.resolve(ref(f"{prefix}/x#k")) == "relogin-value"
        assert vault._token is not None
        first = vault._token.reveal()
        admin = bao.client()
        deadline = time.monotonic() + 10
        while _server_ttl(admin, first) > 0:  # the server's clock
            assert time.monotonic() < deadline, "the server never counted the token's TTL down"
            time.sleep(0.05)
        now[0] += 3.5  # past half of the TTL on the vault's clock: renew, capped or refused; log in
        assert vault.resolve(ref(f"{prefix}/x#k")) == "relogin-value"
        assert vault.logins == 2 and vault._token.reveal() != first


def _server_ttl(admin: Any, token: str) -> int:
    """Seconds the server says are left of ``token`` (0 once it is gone)."""
    try:
        return int(admin.auth.token.lookup(token)["data"]["ttl"])
    except hvac.exceptions.Forbidden:
        return 0


def test_renewal_disabled_keeps_token(bao: BaoServer, prefix: str) -> None:
    bao.client().secrets.kv.v2.create_or_update_secret(path=f"{prefix}/n", secret={"k": "no-renew"})
    token = bao.token(["root"], ttl="30s", renewable=True)
    with OpenBaoVault(vault_config(bao, token=Secret(token), renew=False)) as vault:
        assert vault.resolve(ref(f"{prefix}/n#k")) == "no-renew"
        assert vault.renewals == 0


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_tls_with_ca(bao_tls: BaoServer, prefix: str) -> None:
    bao_tls.client().secrets.kv.v2.create_or_update_secret(path=f"{prefix}/t", secret={"k": "over-tls"})
    ca = bao_tls.certs["ca.pem"]
    with OpenBaoVault(vault_config(bao_tls, address=bao_tls.tls_addr, ca_cert=ca)) as vault:
        assert vault.resolve(ref(f"{prefix}/t#k")) == "over-tls"
    with (
        OpenBaoVault(vault_config(bao_tls, address=bao_tls.tls_addr)) as vault,
        pytest.raises(SecretError) as exc,
    ):
        vault.resolve(ref(f"{prefix}/t#k"))  # the system CA store does not know the test CA
    assert "TLS" in str(exc.value) and "certificate verify failed" in str(exc.value)
    # development only: skip verification (the config loader refuses it outside the dev profile)
    with OpenBaoVault(vault_config(bao_tls, address=bao_tls.tls_addr, skip_verify=True)) as vault:
        assert vault.resolve(ref(f"{prefix}/t#k")) == "over-tls"


def test_mutual_tls_client_certificate(bao_tls: BaoServer, prefix: str) -> None:
    bao_tls.client().secrets.kv.v2.create_or_update_secret(path=f"{prefix}/m", secret={"k": "over-mtls"})
    c = bao_tls.certs
    base = {"address": bao_tls.mtls_addr, "ca_cert": c["ca.pem"]}
    with OpenBaoVault(
        vault_config(bao_tls, **base, client_cert=c["client.pem"], client_key=c["client.key"])
    ) as vault:
        assert vault.resolve(ref(f"{prefix}/m#k")) == "over-mtls"
    with OpenBaoVault(vault_config(bao_tls, **base)) as vault, pytest.raises(SecretError) as exc:
        vault.resolve(ref(f"{prefix}/m#k"))  # no client certificate: the handshake is refused
    assert f"vault {bao_tls.mtls_addr}" in str(exc.value) or "TLS" in str(exc.value)


def test_tokens_never_in_repr(bao: BaoServer, tmp_path: Path) -> None:
    cfg = vault_config(bao)
    assert bao.root_token not in repr(cfg)
    assert bao.root_token not in f"{cfg.token}"
    assert process_masker().mask(bao.root_token) == MASK
