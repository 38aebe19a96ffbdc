"""Send a sweep's runs to an existing Dask cluster (``--scheduler ADDRESS`` / ``$BOOK_SCHEDULER``).

``lib.experiments.sweep`` runs its runs in local joblib processes unless it is given the address of
a running ``dask.distributed`` scheduler; then each run goes to the cluster as one task:

* ``connect(address)`` checks the scheduler answers within a few seconds and returns a client;
  a dead, wrong or malformed address raises ``ClusterError`` naming the address;
* ``run_on_cluster(client, jobs)`` submits joblib-style ``(body, args, kwargs)`` jobs (the same
  ``delayed(lib.experiments._indexed)(i, fn, config)`` a local sweep runs, or ``_indexed_batch``
  for seeds trained as one model; each returns a list of runs) and yields
  ``(i, result, provenance)`` for every run as each job finishes. The body writes nothing: it
  computes on the worker and returns the result with its provenance (the code fingerprint of
  the worker's code, the identity of the data the worker read) and the worker's name; the
  client stores each run;
* ``provenance_warnings(provenance, codes, what)`` says when a worker ran other code, or read other
  data, than this client would have.

Workers need the repository installed at the same commit (``pip install -r requirements.txt``)
but no shared disk: functions travel by reference (module and name) and run the worker's code,
which is why its fingerprint is checked. ``distributed`` is imported only when a cluster is used.
"""

import asyncio
import socket
from concurrent.futures import ThreadPoolExecutor

from lib.identity import data_identity

CONNECT_TIMEOUT_S = 5.0


class ClusterError(RuntimeError):
    """The Dask scheduler cannot be reached at the address given (the message names it)."""


def probe(address, timeout=CONNECT_TIMEOUT_S):
    """Ask the scheduler at ``address`` who it is; return its identity (workers, threads).

    Fails within about ``timeout`` seconds with a ``ClusterError`` naming the address. The probe
    runs in a thread of its own with its own event loop, so a failure leaves nothing behind (a
    failed ``distributed.Client`` keeps its I/O thread) and it works inside a Jupyter kernel.
    """
    from distributed.core import rpc
    from distributed.security import Security

    async def ask():  # TLS settings, if any, come from Dask's config, as for a Client
        tls = Security().get_connection_args("client")
        async with rpc(address, timeout=timeout, connection_args=tls) as scheduler:
            return await asyncio.wait_for(scheduler.identity(n_workers=0), timeout)

    hint = (
        "give the address a scheduler prints at start, e.g. tcp://HOST:8786 "
        "(`dask scheduler`), or unset --scheduler / $BOOK_SCHEDULER to run locally"
    )
    try:
        with ThreadPoolExecutor(1, thread_name_prefix="dask-probe") as pool:
            info = pool.submit(asyncio.run, ask()).result()
    except (ValueError, TypeError) as err:  # malformed: no port, unknown scheme, ...
        raise ClusterError(f"{address!r} is not a Dask scheduler address ({err}); {hint}") from None
    except (OSError, TimeoutError) as err:
        why = f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
        raise ClusterError(
            f"no Dask scheduler answered at {address!r} within {timeout:g} s ({why}); {hint}"
        ) from None
    except Exception as err:  # something that is not a Dask scheduler answered
        raise ClusterError(
            f"{address!r} did not answer as a Dask scheduler ({type(err).__name__}: {err}); {hint}"
        ) from None
    if not isinstance(info, dict) or info.get("type") != "Scheduler":
        raise ClusterError(f"{address!r} answered but is not a Dask scheduler ({str(info)[:200]}); {hint}")
    return info


def connect(address, timeout=CONNECT_TIMEOUT_S):
    """A ``distributed.Client`` of the scheduler at ``address`` (use it as a context manager).

    The address is probed first (``probe``), so a dead or malformed one fails in a few seconds
    with a ``ClusterError`` naming it.
    """
    probe(address, timeout)
    from distributed import Client

    try:
        return Client(address, timeout=timeout, set_as_default=False)
    except Exception as err:
        raise ClusterError(
            f"could not connect to the Dask scheduler at {address!r} ({type(err).__name__}: {err})"
        ) from err


def _on_worker(body, args, kwargs):
    """Run one job on a worker; add the worker's name to the provenance of each run it returns."""
    from distributed import get_worker

    runs = body(*args, **kwargs)
    try:
        worker = f"{get_worker().address} (host {socket.gethostname()})"
    except ValueError:  # not inside a worker (a client-side test of this function)
        worker = f"host {socket.gethostname()}"
    return [(i, result, {**provenance, "worker": worker}) for i, result, provenance in runs]


def run_on_cluster(client, jobs):
    """Submit joblib-style ``(body, args, kwargs)`` jobs (each returning a list of runs); yield
    ``(i, result, provenance)`` for every run.

    Results come as they complete (``as_completed``), so the caller can store each run at once
    and a kill loses only the runs in flight. A failed run raises its error here; the futures
    still pending are cancelled when the generator is closed (the client's close does the rest).
    """
    from distributed import as_completed

    futures = [client.submit(_on_worker, body, args, kwargs, pure=False) for body, args, kwargs in jobs]
    try:
        for future in as_completed(futures, loop=client.loop):
            yield from future.result()
            future.release()
    finally:  # stopped early (a failed run, an interrupt): drop what has not finished
        pending = [f for f in futures if not f.done()]
        if pending and client.status == "running":
            client.cancel(pending)


def provenance_warnings(provenance, codes, what):
    """Why a run computed on a worker differs from one computed here (empty when it does not).

    ``codes`` are this client's fingerprints of the run function ``what`` (and of its batched
    twin, ``lib.experiments.SeedBatched``). A run from other code is
    still stored (under the worker's fingerprint, so a rerun recomputes it) and the sweep lists
    both fingerprints, which ``Record`` reports as ``mixed_code``.
    """
    worker = provenance.get("worker", "unknown worker")
    notes = []
    if provenance["code"] not in codes:
        notes.append(
            f"Dask worker {worker} runs other code than this client: {what} has code "
            f"fingerprint {provenance['code']} there and {' or '.join(codes)} here; its runs are "
            f"stored under its fingerprint (a rerun recomputes them) and the sweep is "
            f"listed in mixed_code. Install the same commit on every worker."
        )
    for request, ident in provenance["data"]:
        try:
            here = data_identity(request)
        except FileNotFoundError:
            here = None
        if here != ident:
            notes.append(
                f"Dask worker {worker} read other data than this client for "
                f"data_dir={request!r}: {ident.get('source')} there, "
                f"{here['source'] if here else 'missing'} here "
                f"(set $MNIST_DIR or data_dir alike on every machine)"
            )
    return notes
