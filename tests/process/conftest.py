import pytest

from tests.cluster import Cluster
from tests.integration import services


@pytest.fixture
def cluster(tmp_path):
    """Real binaries on a RabbitMQ vhost of their own and a SQLite file."""
    with services.rabbitmq_vhost() as url:
        c = Cluster(str(tmp_path), url, f"sqlite:///{tmp_path}/novalite.sqlite").prepare()
        c.connect()
        try:
            yield c
        finally:
            c.stop_all()
