"""Console scripts. Importing nova pulls in futurist, which warns that
eventlet is deprecated; lpar_eventd never uses eventlet (oslo.service runs on
its threading backend), so the console scripts silence that one warning."""

import warnings

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
