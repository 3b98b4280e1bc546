"""Cashline's Lambda functions, defined with Chalice. Each blueprint is one concern."""

from __future__ import annotations

from chalice.app import Chalice, ConvertToMiddleware

from cashline.observability import logger, metrics
from chalicelib.access_routes import access_api
from chalicelib.auth import auth
from chalicelib.bank_handlers import bank_handlers
from chalicelib.bank_routes import bank_api
from chalicelib.bank_schedules import bank_schedules
from chalicelib.billing_dashboard_routes import billing_dashboard_api
from chalicelib.billing_invoice_routes import billing_invoice_api
from chalicelib.billing_schedules import billing_schedules
from chalicelib.billing_settings_routes import billing_settings_api
from chalicelib.catalog_routes import catalog_api
from chalicelib.charge_schedules import charge_schedules
from chalicelib.collection_handlers import collection_handlers
from chalicelib.collection_routes import collection_api
from chalicelib.counterparty_routes import counterparty_api
from chalicelib.dashboard_routes import dashboard
from chalicelib.delivery_schedules import delivery_schedules
from chalicelib.dev_routes import dev_api
from chalicelib.document_routes import document_api
from chalicelib.financing_routes import financing_api
from chalicelib.financing_schedules import financing_schedules
from chalicelib.health_routes import health
from chalicelib.http import answer_undeclared_methods
from chalicelib.invoice_routes import invoice_api
from chalicelib.payment_handlers import payment_handlers
from chalicelib.payment_routes import payment_api
from chalicelib.queue_handlers import queues
from chalicelib.reconciliation_routes import reconciliation_api
from chalicelib.report_routes import report_api
from chalicelib.scheduled import schedules
from chalicelib.statement_schedules import statement_schedules
from chalicelib.subscription_routes import subscription_api

# Logging is Powertools' (cashline.observability), on the logger of the same name: Chalice must not
# add a plain handler of its own nor raise that logger's level to ERROR, which it does whenever the
# JSON handler is not on stdout (the `cashline` CLI moves it to stderr): INFO records were dropped
# and every error printed twice.
app = Chalice(app_name="cashline", configure_logs=False)
# Factur-X imports arrive as PDF: API Gateway must pass them as bytes, not text.
app.api.binary_types.append("application/pdf")
# Bank files sent as octet-stream reach the import byte for byte, whatever their encoding.
app.api.binary_types.append("application/octet-stream")
# Invoice logos (PUT /v1/billing-settings/logo) likewise.
app.api.binary_types.extend(["image/png", "image/jpeg"])
app.register_middleware(ConvertToMiddleware(logger.inject_lambda_context))
app.register_middleware(ConvertToMiddleware(metrics.log_metrics))

app.register_blueprint(auth)
app.register_blueprint(health)
app.register_blueprint(access_api)
app.register_blueprint(counterparty_api)
app.register_blueprint(invoice_api)
app.register_blueprint(billing_invoice_api)
app.register_blueprint(billing_settings_api)
app.register_blueprint(catalog_api)
app.register_blueprint(billing_dashboard_api)
app.register_blueprint(subscription_api)
app.register_blueprint(document_api)
app.register_blueprint(financing_api)
app.register_blueprint(payment_api)
app.register_blueprint(collection_api)
app.register_blueprint(report_api)
app.register_blueprint(bank_api)
app.register_blueprint(reconciliation_api)
app.register_blueprint(dashboard)
app.register_blueprint(dev_api)
app.register_blueprint(schedules)
app.register_blueprint(financing_schedules)
app.register_blueprint(billing_schedules)
app.register_blueprint(charge_schedules)
app.register_blueprint(delivery_schedules)
app.register_blueprint(queues)
app.register_blueprint(payment_handlers)
app.register_blueprint(collection_handlers)
app.register_blueprint(statement_schedules)
app.register_blueprint(bank_schedules)
app.register_blueprint(bank_handlers)
# Last: it needs every declared route to know which methods a path lacks.
answer_undeclared_methods(app)
