"""GridSearchCV on a dask.distributed cluster through joblib's "dask" backend.

The clusters are local: in-process workers (``processes=False``: inproc transport, no socket)
for the search itself, and two worker processes on the loopback interface for the thread
count a kernel sees there.
"""

import joblib
import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV

from skadv import AdversarialMFRecommender
from skadv.datasets import make_interactions
from skadv.model_selection import UserHoldoutSplit

distributed = pytest.importorskip("distributed")

GRID = {"adv_reg": [0.5, 1.0], "epsilon": [0.1, 0.2]}


def _search(n_jobs):
    X = make_interactions(n_users=60, n_items=40, random_state=0)
    search = GridSearchCV(
        AdversarialMFRecommender(n_factors=4, n_epochs=3, random_state=0),
        GRID,
        cv=UserHoldoutSplit(n_splits=2, random_state=0),
        n_jobs=n_jobs,
    )
    return search.fit(X)


def test_grid_search_on_a_local_dask_cluster_matches_a_serial_search():
    serial = _search(n_jobs=1)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
        joblib.parallel_backend("dask"),
        distributed.get_task_stream(client) as tasks,
    ):
        distributed_search = _search(n_jobs=-1)
    # the 8 fits ran as tasks on the cluster (joblib batches them; the refit runs here)
    assert len(tasks.data) >= 1
    np.testing.assert_allclose(
        distributed_search.cv_results_["mean_test_score"], serial.cv_results_["mean_test_score"]
    )
    assert distributed_search.best_params_ == serial.best_params_


def _kernel_threads():
    from skadv.utils._threads import effective_n_threads

    return effective_n_threads(-1)


def test_dask_worker_processes_give_kernels_one_thread():
    """n_jobs=-1 inside a worker process is one OpenMP thread: workers x threads never
    exceed the cores (dask's nanny sets OMP_NUM_THREADS=1 in the workers it spawns)."""
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        threads = client.run(_kernel_threads)
    assert list(threads.values()) == [1, 1]
