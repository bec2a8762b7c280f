#!/usr/bin/env python3
"""Writes postman/passerelle.postman_collection.json and postman/passerelle.postman_environment.json.

The JSON files are what Postman and newman read; this script is where they are edited (a
request per line, the test scripts as plain JavaScript), so a change stays reviewable:

    python3 postman/build_collection.py

`cargo test --test api contract::postman` fails when an operation of openapi/openapi.json has
no request in the collection.
"""

import json
import os
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
NS = uuid.UUID("6a1f3e0c-6d4b-4f1e-9a55-7c2f0b8e9d10")

ADMIN, MANAGER, STUDENT, SERVICE, NONE = "admin", "manager", "student", "service", "none"
TOKENS = {
    ADMIN: "{{adminToken}}",
    MANAGER: "{{managerToken}}",
    STUDENT: "{{studentToken}}",
    SERVICE: "{{serviceToken}}",
}


def js(text):
    return [line for line in text.strip("\n").split("\n")]


def status(code):
    return f"pm.test('status {code}', () => pm.response.to.have.status({code}));\n"


def problem(code, problem_code):
    return status(code) + (
        "pm.test('problem " + problem_code + "', () => {\n"
        "    pm.expect(pm.response.headers.get('Content-Type')).to.include('application/problem+json');\n"
        f"    pm.expect(pm.response.json().code).to.eql('{problem_code}');\n"
        "});\n"
    )


def poll(condition, what, attempts=120, delay_ms=250):
    """Test script: repeat this request (`pm.execution.setNextRequest`) until `condition` holds;
    `then(after)` runs the assertions `after` once, on the last answer."""
    def then(after=""):
        return (
        "const n = Number(pm.collectionVariables.get('pollCount') || 0);\n"
        f"const done = (() => {{ try {{ return Boolean({condition}); }} catch (e) {{ return false; }} }})();\n"
        f"if (!done && n < {attempts}) {{\n"
        "    pm.collectionVariables.set('pollCount', n + 1);\n"
        "    pm.execution.setNextRequest(pm.info.requestName);\n"
        "} else {\n"
        "    pm.collectionVariables.set('pollCount', 0);\n"
        f"    pm.test('{what} (after ' + n + ' polls)', () => pm.expect(done).to.be.true);\n"
        + "".join("    " + line + "\n" for line in after.strip("\n").split("\n") if line)
        + "}\n"
        )
    return then, (
        "if (Number(pm.collectionVariables.get('pollCount') || 0) > 0) {\n"
        f"    setTimeout(() => {{}}, {delay_ms});\n"
        "}\n"
    )


def request(name, method, path, who=ADMIN, body=None, form=None, raw_type="json",
            tests="", pre="", query=None, description=None, headers=None, base="{{baseUrl}}"):
    url_path = path.lstrip("/")
    raw = f"{base}/{url_path}"
    url = {"raw": raw, "host": [base], "path": [p for p in url_path.split("/") if p]}
    if query:
        url["raw"] += "?" + "&".join(f"{k}={v}" for k, v in query)
        url["query"] = [{"key": k, "value": v} for k, v in query]
    req = {"method": method, "header": list(headers or []), "url": url}
    if who == NONE:
        req["auth"] = {"type": "noauth"}
    else:
        req["auth"] = {"type": "bearer", "bearer": [
            {"key": "token", "value": TOKENS[who], "type": "string"}]}
    if body is not None:
        req["header"].append({"key": "Content-Type", "value": "application/json"})
        req["body"] = {"mode": "raw",
                       "raw": body if isinstance(body, str) else json.dumps(body, indent=2, ensure_ascii=False),
                       "options": {"raw": {"language": raw_type}}}
    if form is not None:
        fields = []
        for k, v in form:
            if isinstance(v, dict):
                fields.append({"key": k, "type": "file", "src": v["file"]})
            else:
                fields.append({"key": k, "type": "text", "value": v})
        req["body"] = {"mode": "formdata", "formdata": fields}
    if description:
        req["description"] = description
    events = []
    if pre:
        events.append({"listen": "prerequest", "script": {"type": "text/javascript", "exec": js(pre)}})
    if tests:
        events.append({"listen": "test", "script": {"type": "text/javascript", "exec": js(tests)}})
    item = {"name": name, "id": str(uuid.uuid5(NS, name)), "request": req}
    if events:
        item["event"] = events
    return item


def folder(name, description, items):
    return {"name": name, "description": description, "item": items}


def j(expr):
    """A test body line that reads the JSON answer."""
    return "const b = pm.response.json();\n" + expr


# --- 1. Tokens and health ---------------------------------------------------------------------
tokens = folder(
    "01 Tokens and health",
    "Tokens are minted with the CLI and pasted into the environment:\n\n"
    "```\npasserelle token --role admin --ttl 1h\n"
    "passerelle token --role manager --composante 905 --ttl 1h\n"
    "passerelle token --role student --cod-etu 21900001 --ttl 1h\n"
    "passerelle token --role service --scope metrics:read --ttl 1h\n```\n"
    "(`.ci/newman.sh` does it and passes them with `--env-var`).",
    [
        request("Liveness", "GET", "/health/live", who=NONE,
                tests=status(200) + j("pm.test('live', () => pm.expect(b.status).to.eql('ok'));")),
        request("Readiness (database)", "GET", "/health/ready", who=NONE,
                tests=status(200) + j("pm.test('ready', () => pm.expect(b.status).to.eql('ok'));")),
        request("Me as admin", "GET", "/me",
                tests=status(200) + j("pm.test('admin', () => pm.expect(b.role).to.eql('admin'));")),
        request("Me as manager", "GET", "/me", who=MANAGER,
                tests=status(200) + j(
                    "pm.test('manager of 905', () => {\n"
                    "    pm.expect(b.role).to.eql('manager');\n"
                    "    pm.expect(b.composantes).to.include(pm.environment.get('composante'));\n"
                    "});")),
        request("Me as student", "GET", "/me", who=STUDENT,
                tests=status(200) + j(
                    "pm.test('student', () => pm.expect(b.cod_etu).to.eql(pm.environment.get('student1')));")),
        request("Without a token: 401", "GET", "/me", who=NONE,
                tests=problem(401, "unauthenticated")),
    ],
)

# --- 2. Composantes ---------------------------------------------------------------------------
composantes = folder(
    "02 Composantes",
    "The UFRs and institutes (COD_CMP). Administrators create them; managers see theirs.",
    [
        request("Create composante", "POST", "/composantes",
                body={"code": "{{composante}}", "label": "UFR de Sciences"},
                tests="pm.test('created (or already there)', () => pm.expect(pm.response.code).to.be.oneOf([201, 409]));\n"),
        request("Update composante", "PUT", "/composantes/{{composante}}",
                body={"label": "UFR Sciences et Technologies"},
                tests=status(200) + j("pm.test('renamed', () => pm.expect(b.label).to.eql('UFR Sciences et Technologies'));")),
        request("Show composante", "GET", "/composantes/{{composante}}", who=MANAGER,
                tests=status(200) + j("pm.test('code', () => pm.expect(b.code).to.eql(pm.environment.get('composante')));")),
        request("List composantes (manager)", "GET", "/composantes", who=MANAGER,
                tests=status(200) + j("pm.test('only 905', () => pm.expect(b.items.map(c => c.code)).to.eql([pm.environment.get('composante')]));")),
    ],
)

# --- 3. Students ------------------------------------------------------------------------------
students = folder(
    "03 Import students",
    "The Apogée enrolment extraction (CSV, `;`-separated) of the batch's students, plus one "
    "student the collection erases at the end. Idempotent.",
    [
        request("Import enrolments (CSV file)", "POST", "/students/import",
                form=[("file", {"file": "students.csv"})],
                tests=status(200) + j(
                    "pm.test('4 rows, none rejected', () => {\n"
                    "    pm.expect(b.rows).to.eql(4);\n"
                    "    pm.expect(b.rejected).to.eql(0);\n"
                    "});")),
        request("List students of the composante", "GET", "/students", who=MANAGER,
                query=[("composante", "{{composante}}"), ("per_page", "50")],
                tests=status(200) + j(
                    "pm.test('the imported students', () => {\n"
                    "    const numbers = b.items.map(s => s.cod_etu);\n"
                    "    ['student1', 'student2', 'student3', 'eraseStudent'].forEach(v => pm.expect(numbers).to.include(pm.environment.get(v)));\n"
                    "});")),
        request("Show a student", "GET", "/students/{{student1}}", who=MANAGER,
                tests=status(200) + j(
                    "pm.test('enrolled in L1INF', () => {\n"
                    "    pm.expect(b.cod_etu).to.eql(pm.environment.get('student1'));\n"
                    "    pm.expect(b.enrolments.map(e => e.etape)).to.include(pm.environment.get('etape'));\n"
                    "});")),
    ],
)

# --- 4. Vaults ----------------------------------------------------------------------------------
sub_tests, sub_pre = poll(
    "pm.response.json().statuses.filter(s => s.status === 'active').reduce((a, s) => a + s.count, 0) >= 3"
    " && pm.response.json().queued_subscriptions === 0",
    "the three vaults are active, no subscription left in the queue")
vaults = folder(
    "04 Vaults",
    "Pre-creation unless refused: the import queued the subscription of every enrolled student "
    "(vaults.auto_subscribe), with no per-student call; digiposte-sim answers and the vaults "
    "become active (\"Validé\"). The summary shows the queued subscriptions going down. A "
    "manager can also subscribe a filtered selection, confirming its count.",
    [
        request("The batch's vaults", "GET", "/vaults", who=MANAGER,
                query=[("composante", "{{composante}}"), ("per_page", "100")],
                tests=status(200) + j(
                    "const wanted = ['student1', 'student2', 'student3'].map(v => pm.environment.get(v));\n"
                    "const mine = b.items.filter(v => wanted.includes(v.student.cod_etu));\n"
                    "pm.test('one vault per student', () => pm.expect(mine.length).to.eql(3));\n"
                    "const byStudent = Object.fromEntries(mine.map(v => [v.student.cod_etu, v.id]));\n"
                    "pm.collectionVariables.set('vault1Id', byStudent[wanted[0]]);\n"
                    "pm.collectionVariables.set('vault3Id', byStudent[wanted[2]]);")),
        request("Filter vaults by name", "GET", "/vaults", who=MANAGER,
                query=[("q", "{{student2}}"), ("year", "{{academicYear}}")],
                tests=status(200) + j("pm.test('one match', () => pm.expect(b.total).to.eql(1));")),
        request("Wait until the vaults are active", "GET", "/vaults/summary", who=MANAGER,
                query=[("composante", "{{composante}}")], pre=sub_pre,
                tests=status(200) + sub_tests()),
        request("Bulk subscription refused on a wrong count", "POST", "/vaults/subscribe", who=MANAGER,
                query=[("composante", "{{composante}}"), ("status", "not_transmitted,transmission_error")],
                body={"expected_vaults": 99},
                tests=status(409) + j(
                    "pm.test('confirmation_mismatch, in French by default', () => {\n"
                    "    pm.expect(b.code).to.eql('confirmation_mismatch');\n"
                    "    pm.expect(b.title).to.eql('La confirmation ne correspond pas');\n"
                    "    pm.expect(pm.response.headers.get('Content-Language')).to.eql('fr');\n"
                    "    pm.collectionVariables.set('expectedVaults', b.expected_vaults);\n"
                    "});")),
        request("Bulk subscription, confirmed", "POST", "/vaults/subscribe", who=MANAGER,
                query=[("composante", "{{composante}}"), ("status", "not_transmitted,transmission_error")],
                body='{"expected_vaults": {{expectedVaults}}}',
                tests=status(202) + j(
                    "pm.test('the confirmed count', () => pm.expect(b.subscribable).to.eql(Number(pm.collectionVariables.get('expectedVaults'))));")),
        request("Subscribe one vault: refused once active (a French problem)", "POST",
                "/vaults/{{vault1Id}}/subscribe", who=MANAGER,
                tests=status(409) + j(
                    "pm.test('invalid_transition, in French', () => {\n"
                    "    pm.expect(b.code).to.eql('invalid_transition');\n"
                    "    pm.expect(b.title).to.eql(\"Opération impossible dans l'état actuel\");\n"
                    "    pm.expect(b.current_status).to.eql('active');\n"
                    "});")),
        request("A problem in English", "GET", "/vaults/{{missingVault}}", who=MANAGER,
                pre="pm.collectionVariables.set('missingVault', 'no-such-vault');\n",
                headers=[{"key": "Accept-Language", "value": "en"}],
                tests=status(404) + j(
                    "pm.test('English title and detail, same code', () => {\n"
                    "    pm.expect(b.code).to.eql('not_found');\n"
                    "    pm.expect(b.title).to.eql('Not found');\n"
                    "    pm.expect(b.detail).to.eql('vault not found');\n"
                    "});")),
        request("Show a vault", "GET", "/vaults/{{vault1Id}}", who=MANAGER,
                tests=status(200) + j(
                    "pm.test('active, with its history', () => {\n"
                    "    pm.expect(b.status).to.eql('active');\n"
                    "    pm.expect(b.status_label).to.eql('Validé');\n"
                    "    pm.expect(b.route_code).to.be.a('string');\n"
                    "    pm.expect(b.history.length).to.be.above(0);\n"
                    "});")),
        request("My vault (student)", "GET", "/me/vault", who=STUDENT,
                tests=status(200) + j("pm.test('active', () => pm.expect(b.status).to.eql('active'));")),
    ],
)

# --- 5. Upload and split ------------------------------------------------------------------------
split_tests, split_pre = poll("pm.response.json().status !== 'splitting'", "the split ended")
upload = folder(
    "05 Upload a batch and wait for the split",
    "\"Déposer un document\": the batch PDF edited from Apogée; the split runs in the background.",
    [
        request("Upload the batch PDF", "POST", "/uploads", who=MANAGER,
                form=[("document_type", "releve_notes"), ("academic_year", "{{academicYear}}"),
                      ("composante", "{{composante}}"), ("label", "Relevés L1 Informatique — session 1"),
                      ("file", {"file": "batch.pdf"})],
                tests=status(202) + j(
                    "pm.test('splitting', () => pm.expect(b.status).to.eql('splitting'));\n"
                    "pm.test('Location', () => pm.expect(pm.response.headers.get('Location')).to.eql('/treatments/' + b.id));\n"
                    "pm.collectionVariables.set('treatmentId', b.id);")),
        request("Poll until split", "GET", "/treatments/{{treatmentId}}", who=MANAGER, pre=split_pre,
                tests=status(200) + split_tests(j(
                    "pm.test('Fichier découpé, three students with a vault', () => {\n"
                    "    pm.expect(b.status).to.eql('split');\n"
                    "    pm.expect(b.status_label).to.eql('Fichier découpé');\n"
                    "    pm.expect(b.blocks.students).to.eql(3);\n"
                    "    pm.expect(b.blocks.with_vault).to.eql(3);\n"
                    "    pm.expect(b.deliverable).to.eql(3);\n"
                    "});\n"
                    "pm.collectionVariables.set('deliverable', b.deliverable);"))),
        request("List treatments", "GET", "/treatments", who=MANAGER,
                query=[("composante", "{{composante}}"), ("status", "split")],
                tests=status(200) + j(
                    "pm.test('the treatment is listed', () => pm.expect(b.items.map(t => t.id)).to.include(pm.collectionVariables.get('treatmentId')));")),
        request("Documents of the treatment", "GET", "/treatments/{{treatmentId}}/documents", who=MANAGER,
                query=[("block", "with_vault")],
                tests=status(200) + j(
                    "pm.test('one document per student', () => {\n"
                    "    pm.expect(b.total).to.eql(3);\n"
                    "    pm.expect(b.items.map(d => d.cod_etu).sort()).to.eql(['student1', 'student2', 'student3'].map(v => pm.environment.get(v)));\n"
                    "});\n"
                    "const first = b.items.find(d => d.cod_etu === pm.environment.get('student1'));\n"
                    "pm.collectionVariables.set('documentId', first.id);")),
        request("Preview one document (PDF)", "GET", "/treatments/{{treatmentId}}/documents/{{documentId}}/pdf", who=MANAGER,
                tests=status(200) +
                "pm.test('a PDF', () => {\n"
                "    pm.expect(pm.response.headers.get('Content-Type')).to.include('application/pdf');\n"
                "    pm.expect(pm.response.text().startsWith('%PDF-')).to.be.true;\n"
                "});\n"),
        request("Confirm identity (not flagged: 409)", "POST",
                "/treatments/{{treatmentId}}/documents/{{documentId}}/confirm-identity", who=MANAGER,
                tests=problem(409, "invalid_transition")),
        request("Settle an uncertain deposit (not uncertain: 409)", "POST",
                "/treatments/{{treatmentId}}/documents/{{documentId}}/uncertain", who=MANAGER,
                body={"resolution": "received"},
                tests=problem(409, "invalid_transition")),
        request("Upload a second batch", "POST", "/uploads", who=MANAGER,
                form=[("document_type", "releve_notes"), ("academic_year", "{{academicYear}}"),
                      ("composante", "{{composante}}"), ("label", "Relevés à annuler"),
                      ("file", {"file": "batch-cancel.pdf"})],
                tests=status(202) + j("pm.collectionVariables.set('cancelTreatmentId', b.id);")),
        request("Poll the second batch", "GET", "/treatments/{{cancelTreatmentId}}", who=MANAGER,
                pre=split_pre,
                tests=status(200) + split_tests(j("pm.test('split', () => pm.expect(b.status).to.eql('split'));"))),
        request("Cancel the second batch", "POST", "/treatments/{{cancelTreatmentId}}/cancel", who=MANAGER,
                tests=status(200) + j(
                    "pm.test('Annulé', () => {\n"
                    "    pm.expect(b.status).to.eql('cancelled');\n"
                    "    pm.expect(b.cancelled_at).to.be.a('string');\n"
                    "});")),
    ],
)

# --- 6. Send, receipts, treatment -----------------------------------------------------------------
final_tests, final_pre = poll(
    "(() => { const d = pm.response.json().deliveries; "
    "const open = d.filter(x => x.status === 'queued' || x.status === 'awaiting_receipt').reduce((a, x) => a + x.count, 0); "
    "return d.length > 0 && open === 0; })()",
    "every delivery reached a final state")
send = folder(
    "06 Send, receipts and the treatment",
    "\"Envoyer dans les coffres\" with the number of documents the manager confirmed; "
    "digiposte-sim deposits and posts signed receipts back to `/webhooks/digiposte`.",
    [
        request("Send with a wrong count: 409", "POST", "/treatments/{{treatmentId}}/send", who=MANAGER,
                body={"expected_documents": 99}, tests=problem(409, "confirmation_mismatch")),
        request("Send to the vaults", "POST", "/treatments/{{treatmentId}}/send", who=MANAGER,
                body='{"expected_documents": {{deliverable}}}',
                tests=status(202) + j(
                    "pm.test('all queued', () => {\n"
                    "    pm.expect(b.queued).to.eql(Number(pm.collectionVariables.get('deliverable')));\n"
                    "    pm.expect(b.newly_sent).to.be.true;\n"
                    "    pm.expect(b.treatment.status).to.eql('sent');\n"
                    "});")),
        request("Poll until every receipt came", "GET", "/treatments/{{treatmentId}}", who=MANAGER,
                pre=final_pre,
                tests=status(200) + final_tests(j(
                    "const t = b.deliveries.find(d => d.status === 'transmitted');\n"
                    "pm.test('Transmis: all three', () => pm.expect(t && t.count).to.eql(3));\n"
                    "pm.test('Fichier envoyé', () => pm.expect(b.status_label).to.eql('Fichier envoyé à Digiposte'));"))),
        request("Deposits and receipts at digiposte-sim", "GET", "/admin/stats", who=NONE, base="{{simUrl}}",
                tests=status(200) + j(
                    "pm.test('each document deposited once, receipts acknowledged', () => {\n"
                    "    pm.expect(b.deposits_total).to.eql(3);\n"
                    "    pm.expect(b.max_deposits_per_file).to.eql(1);\n"
                    "    pm.expect(b.receipts_acknowledged).to.be.at.least(3);\n"
                    "});")),
        request("Check the documents", "GET", "/treatments/{{treatmentId}}/documents", who=MANAGER,
                tests=status(200) + j(
                    "pm.test('deposited, received, Transmis', () => b.items.forEach(d => {\n"
                    "    pm.expect(d.delivery_status).to.eql('transmitted');\n"
                    "    pm.expect(d.delivery_status_label).to.eql('Transmis');\n"
                    "    pm.expect(d.deposited_at).to.be.a('string');\n"
                    "    pm.expect(d.receipt_at).to.be.a('string');\n"
                    "}));")),
        request("Upload the same batch again: 409", "POST", "/uploads", who=MANAGER,
                form=[("document_type", "releve_notes"), ("academic_year", "{{academicYear}}"),
                      ("composante", "{{composante}}"), ("label", "Relevés L1 Informatique (bis)"),
                      ("file", {"file": "batch.pdf"})],
                tests=problem(409, "duplicate_upload") + j(
                    "pm.test('names the live treatment', () => pm.expect(b.treatment_id).to.eql(pm.collectionVariables.get('treatmentId')));")),
        request("Send the held documents (none became deliverable)", "POST",
                "/treatments/{{treatmentId}}/send-held", who=MANAGER,
                body={"expected_documents": 0},
                tests=status(202) + j("pm.test('nothing queued', () => pm.expect(b.queued).to.eql(0));")),
        request("Send one document again (transmitted: 409)", "POST",
                "/treatments/{{treatmentId}}/documents/{{documentId}}/send", who=MANAGER,
                tests=problem(409, "invalid_transition")),
        request("Confirm a replacement (nothing to replace: 409)", "POST",
                "/treatments/{{treatmentId}}/documents/{{documentId}}/confirm-replacement", who=MANAGER,
                tests=problem(409, "invalid_transition")),
        request("Release a document (not held outside the composante: 409)", "POST",
                "/treatments/{{treatmentId}}/documents/{{documentId}}/release", who=ADMIN,
                tests=problem(409, "invalid_transition")),
        request("Receipt with a forged signature: 401", "POST", "/webhooks/digiposte", who=NONE,
                headers=[{"key": "X-Digiposte-Timestamp", "value": "{{receiptTimestamp}}"},
                         {"key": "X-Digiposte-Signature", "value": "sha256=0000000000000000000000000000000000000000000000000000000000000000"}],
                body="{{receiptBody}}",
                pre="const ts = Math.floor(Date.now() / 1000).toString();\n"
                    "pm.collectionVariables.set('receiptTimestamp', ts);\n"
                    "pm.collectionVariables.set('receiptBody', JSON.stringify({receipt_id: 'postman-forged', document_id: 'unknown', status: 'DELIVERED'}));\n",
                tests=problem(401, "webhook_signature_invalid")),
        request("Signed receipt for an unknown deposit: 404", "POST", "/webhooks/digiposte", who=NONE,
                headers=[{"key": "X-Digiposte-Timestamp", "value": "{{receiptTimestamp}}"},
                         {"key": "X-Digiposte-Signature", "value": "{{receiptSignature}}"}],
                body="{{receiptBody}}",
                pre="const ts = Math.floor(Date.now() / 1000).toString();\n"
                    "const body = JSON.stringify({receipt_id: 'postman-' + Date.now(), document_id: 'postman-unknown-deposit', status: 'DELIVERED'});\n"
                    "const cryptojs = require('crypto-js');\n"
                    "const sig = cryptojs.HmacSHA256(ts + '.' + body, pm.environment.get('webhookSecret')).toString(cryptojs.enc.Hex);\n"
                    "pm.collectionVariables.set('receiptTimestamp', ts);\n"
                    "pm.collectionVariables.set('receiptBody', body);\n"
                    "pm.collectionVariables.set('receiptSignature', 'sha256=' + sig);\n",
                tests="pm.test('authenticated, stored, not applied', () => pm.expect(pm.response.code).to.eql(404));\n"),
    ],
)

# --- 7. Vault lifecycle -------------------------------------------------------------------------
term_tests, term_pre = poll("pm.response.json().status === 'terminated'", "the vault is terminated")
pend_tests, pend_pre = poll("pm.response.json().status === 'termination_pending'", "the termination reached Digiposte")
lifecycle = folder(
    "07 Vault lifecycle and synchronisation",
    "Terminate a membership, synchronise with Digiposte, send a new invitation.",
    [
        request("Terminate a vault", "POST", "/vaults/{{vault3Id}}/terminate", who=MANAGER,
                tests=status(202) + j("pm.test('queued', () => pm.expect(b.action).to.eql('terminate'));")),
        request("Wait for the termination request", "GET", "/vaults/{{vault3Id}}", who=MANAGER,
                pre=pend_pre, tests=status(200) + pend_tests()),
        request("Synchronise memberships now", "POST", "/digiposte/sync",
                # digiposte-sim makes a cancellation CANCELLED after --cancel-delay-ms.
                pre="setTimeout(() => {}, 500);\n",
                tests=status(202) + j("pm.test('a job', () => pm.expect(b.job_id).to.be.a('string'));")),
        request("Wait until terminated", "GET", "/vaults/{{vault3Id}}", who=MANAGER,
                pre=term_pre,
                tests=status(200) + term_tests()),
        request("Re-invite the student", "POST", "/vaults/{{vault3Id}}/reinvite", who=MANAGER,
                tests=status(202) + j("pm.test('reinvite queued', () => pm.expect(b.action).to.eql('reinvite'));")),
    ],
)

# --- 8. Consents --------------------------------------------------------------------------------
# The fourth student's vault was pre-created at the import; the paper objection asks Digiposte to
# end it, and the synchronisation (a manager's, for their composante) sees it ended.
term_tests, term_pre = poll("pm.response.json().items[0].status === 'terminated'",
                            "the vault of the objecting student is terminated")
consents = folder(
    "08 Consents",
    "The RGPD ledger: a paper objection recorded by a manager, the student's own choice via the ENT.",
    [
        request("Record a paper objection", "POST", "/consents", who=MANAGER,
                body={"student": "{{eraseStudent}}", "purpose": "vault_precreation", "event": "objected",
                      "source": "paper", "evidence_ref": "courrier-2025-001"},
                tests=status(201) + j("pm.test('refused', () => pm.expect(b.event.event).to.eql('objected'));")),
        request("The objection ends the membership: synchronise (manager)", "POST",
                "/digiposte/sync", who=MANAGER,
                tests=status(202) + j(
                    "pm.test('the synchronisation is queued', () => pm.expect(b.kind).to.eql('vault_sync'));")),
        request("Wait until the vault is terminated", "GET", "/vaults", who=MANAGER,
                query=[("q", "{{eraseStudent}}")],
                pre=term_pre
                    + "if (Number(pm.collectionVariables.get('pollCount') || 0) > 0) {\n"
                      "    pm.sendRequest({url: pm.variables.replaceIn('{{baseUrl}}/digiposte/sync'), method: 'POST',\n"
                      "        header: {Authorization: 'Bearer ' + pm.variables.replaceIn('{{managerToken}}')}}, () => {});\n"
                      "}\n",
                tests=status(200) + term_tests()),
        request("A student's consent ledger", "GET", "/consents", who=MANAGER,
                query=[("student", "{{eraseStudent}}")],
                tests=status(200) + j("pm.test('one event', () => pm.expect(b.events.length).to.eql(1));")),
        request("Grant document delivery (student)", "POST", "/me/consents", who=STUDENT,
                body={"purpose": "document_delivery", "event": "granted"},
                tests=status(201) + j("pm.test('consented', () => pm.expect(b.state).to.eql('consented'));")),
        request("My consents (student)", "GET", "/me/consents", who=STUDENT,
                tests=status(200) + j("pm.test('mine', () => pm.expect(b.student).to.eql(pm.environment.get('student1')));")),
    ],
)

# --- 9. Grade transfer --------------------------------------------------------------------------
grades = folder(
    "09 Grade transfer (ScoDoc → Apogée)",
    "The maquette Apogée exported and the grades (CSV); passerelle fills the maquette as ScoDoc does.",
    [
        request("Fill a maquette from a grade file", "POST", "/grade-transfers", who=MANAGER,
                form=[("composante", "{{composante}}"), ("maquette", {"file": "maquette.txt"}),
                      ("source", {"file": "grades.csv"})],
                tests=status(201) + j(
                    "pm.test('filled V1RT', () => {\n"
                    "    pm.expect(b.etape).to.eql('V1RT');\n"
                    "    pm.expect(b.cells_changed).to.be.above(0);\n"
                    "    pm.expect(b.report_text).to.be.a('string');\n"
                    "});\n"
                    "pm.collectionVariables.set('gradeTransferId', b.id);")),
        request("List grade transfers", "GET", "/grade-transfers", who=MANAGER,
                query=[("composante", "{{composante}}")],
                tests=status(200) + j("pm.test('listed', () => pm.expect(b.items.map(t => t.id)).to.include(pm.collectionVariables.get('gradeTransferId')));")),
        request("Show a grade transfer", "GET", "/grade-transfers/{{gradeTransferId}}", who=MANAGER,
                tests=status(200) + j("pm.test('report', () => pm.expect(b.report).to.be.an('object'));")),
        request("Download the file to import", "GET", "/grade-transfers/{{gradeTransferId}}/file", who=MANAGER,
                tests=status(200) + "pm.test('a maquette', () => pm.expect(pm.response.text()).to.include('XX-APO_VALEURS-XX'));\n"),
        request("Changed cells", "GET", "/grade-transfers/{{gradeTransferId}}/diff", who=MANAGER,
                query=[("format", "json"), ("nip", "21900001,21900002")],
                tests=status(200)),
    ],
)

# --- 10. Lockers --------------------------------------------------------------------------------
lockers = folder(
    "10 Lockers (casiers)",
    "Immutable, hashed and time-stamped deposits into users' and groups' lockers.",
    [
        request("Define a group", "PUT", "/lockers/groups/{{lockerGroup}}",
                body={"label": "Délégués L1", "members": ["student:{{student1}}", "student:{{student2}}"]},
                tests="pm.test('created or replaced', () => pm.expect(pm.response.code).to.be.oneOf([200, 201]));\n"
                      + j("pm.test('two members', () => pm.expect(b.members.length).to.eql(2));")),
        request("List groups", "GET", "/lockers/groups", who=MANAGER,
                tests=status(200) + j("pm.test('listed', () => pm.expect(b.map(g => g.name)).to.include(pm.environment.get('lockerGroup')));")),
        request("Show a group", "GET", "/lockers/groups/{{lockerGroup}}",
                tests=status(200) + j("pm.test('members', () => pm.expect(b.members).to.include('student:' + pm.environment.get('student1')));")),
        request("Deposit into lockers", "POST", "/lockers/deposits", who=MANAGER,
                form=[("title", "Sujet du TD 3"), ("recipients", "student:{{student1}},group:{{lockerGroup}}"),
                      ("file", {"file": "locker.pdf"})],
                tests=status(201) + j(
                    "pm.test('hashed and time-stamped', () => {\n"
                    "    pm.expect(b.sha256).to.match(/^[0-9a-f]{64}$/);\n"
                    "    pm.expect(b.recipient_count).to.eql(2);\n"
                    "    pm.expect(b.audit.seq).to.be.a('number');\n"
                    "});\n"
                    "pm.collectionVariables.set('depositId', b.id);")),
        request("Show a deposit", "GET", "/lockers/deposits/{{depositId}}", who=MANAGER,
                tests=status(200) + j("pm.test('version 1', () => pm.expect(b.version).to.eql(1));")),
        request("Change a deposit: 409", "PUT", "/lockers/deposits/{{depositId}}", who=MANAGER,
                tests=problem(409, "deposit_immutable")),
        request("Delete a deposit: 409", "DELETE", "/lockers/deposits/{{depositId}}", who=MANAGER,
                tests=problem(409, "deposit_immutable")),
        request("My inbox (student)", "GET", "/lockers/me/inbox", who=STUDENT, query=[("unread", "true")],
                tests=status(200) + j("pm.test('the deposit, unread', () => pm.expect(b.items.map(i => i.id)).to.include(pm.collectionVariables.get('depositId')));")),
        request("Download the deposit (student)", "GET", "/lockers/deposits/{{depositId}}/file", who=STUDENT,
                tests=status(200) + "pm.test('the PDF', () => pm.expect(pm.response.text().startsWith('%PDF-')).to.be.true);\n"),
        request("Mark unread", "POST", "/lockers/me/read", who=STUDENT,
                body='{"ids": ["{{depositId}}"], "read": false}',
                tests=status(200) + j("pm.test('updated', () => pm.expect(b.updated).to.eql([pm.collectionVariables.get('depositId')]));")),
        request("Sent history (manager)", "GET", "/lockers/me/sent", who=MANAGER,
                tests=status(200) + j("pm.test('sent', () => pm.expect(b.items.map(i => i.id)).to.include(pm.collectionVariables.get('depositId')));")),
        request("Find recipients by name or number (manager)", "GET", "/lockers/recipients", who=MANAGER,
                query=[("q", "{{student1}}")],
                tests=status(200) + j("pm.test('the student, named', () => {\n"
                                      "    const found = b.items.find(i => i.address === 'student:' + pm.environment.get('student1'));\n"
                                      "    pm.expect(found.kind).to.eql('student');\n"
                                      "    pm.expect(found.name).to.be.a('string');\n"
                                      "});")),
        request("Move to trash", "POST", "/lockers/me/trash", who=STUDENT,
                body='{"ids": ["{{depositId}}"]}',
                tests=status(200) + j("pm.test('trashed', () => pm.expect(b.updated.length).to.eql(1));")),
        request("My trash", "GET", "/lockers/me/trash", who=STUDENT,
                tests=status(200) + j("pm.test('with its purge date', () => pm.expect(b.items[0].purge_at).to.be.a('string'));")),
        request("Restore", "POST", "/lockers/me/restore", who=STUDENT,
                body='{"ids": ["{{depositId}}"]}',
                tests=status(200) + j("pm.test('restored', () => pm.expect(b.updated.length).to.eql(1));")),
        request("Delete the group", "DELETE", "/lockers/groups/{{lockerGroup}}",
                tests=status(204)),
    ],
)

# --- 11. Supporting documents -------------------------------------------------------------------
supporting = folder(
    "11 Supporting documents (pièces justificatives)",
    "The kinds an étape requires, the student's deposits, the manager's decisions and follow-up.",
    [
        request("Set the required kinds", "PUT", "/supporting-documents/requirements",
                body='{"etape": "{{etape}}", "academic_year": {{academicYear}},\n'
                     ' "kinds": [{"kind": "identity_document"}, {"kind": "cvec_certificate"}]}',
                tests=status(200) + j("pm.test('two kinds', () => pm.expect(b.map(k => k.kind)).to.have.members(['identity_document', 'cvec_certificate']));")),
        request("Required kinds", "GET", "/supporting-documents/requirements", who=MANAGER,
                query=[("etape", "{{etape}}"), ("year", "{{academicYear}}")],
                tests=status(200) + j("pm.test('two kinds', () => pm.expect(b.length).to.eql(2));")),
        request("Deposit an identity document (student)", "POST", "/me/supporting-documents", who=STUDENT,
                form=[("kind", "identity_document"), ("file", {"file": "identity.pdf"})],
                tests=status(201) + j("pm.test('pending', () => pm.expect(b.status).to.eql('pending'));\n"
                                      "pm.collectionVariables.set('supportingId1', b.id);")),
        request("Deposit a CVEC certificate (student)", "POST", "/me/supporting-documents", who=STUDENT,
                form=[("kind", "cvec_certificate"), ("file", {"file": "cvec.pdf"})],
                tests=status(201) + j("pm.collectionVariables.set('supportingId2', b.id);")),
        request("Pending documents of the étape", "GET", "/supporting-documents", who=MANAGER,
                query=[("etape", "{{etape}}"), ("status", "pending")],
                tests=status(200) + j("pm.test('two pending', () => pm.expect(b.items.filter(r => r.submission_id).length).to.eql(2));")),
        request("Download a supporting document", "GET", "/supporting-documents/{{supportingId1}}/file", who=MANAGER,
                tests=status(200) + "pm.test('the PDF', () => pm.expect(pm.response.text().startsWith('%PDF-')).to.be.true);\n"),
        request("Accept", "POST", "/supporting-documents/{{supportingId1}}/accept", who=MANAGER,
                tests=status(200) + j("pm.test('Pièce validée', () => pm.expect(b.status).to.eql('accepted'));")),
        request("Reject", "POST", "/supporting-documents/{{supportingId2}}/reject", who=MANAGER,
                body={"reason": "Document illisible"},
                tests=status(200) + j("pm.test('Pièce refusée', () => pm.expect(b.status).to.eql('rejected'));")),
        request("My supporting documents (student)", "GET", "/me/supporting-documents", who=STUDENT,
                tests=status(200) + j("pm.test('not complete: one rejected', () => pm.expect(b[0].complete).to.be.false);")),
        request("Follow-up of the étape", "GET", "/supporting-documents/follow-up", who=MANAGER,
                query=[("etape", "{{etape}}")],
                tests=status(200) + j("pm.test('four students', () => pm.expect(b[0].students).to.eql(4));")),
        request("Follow-up of one student", "GET", "/supporting-documents/students/{{student1}}", who=MANAGER,
                tests=status(200) + j("pm.test('two kinds', () => pm.expect(b[0].documents.length).to.eql(2));")),
        request("Record a piece received on paper, accepted", "POST", "/supporting-documents/students/{{student1}}/paper",
                who=MANAGER, body={"kind": "cvec_certificate", "accept": True},
                tests=status(201) + j("pm.test('on paper, accepted, with who and when', () => {\n"
                                      "    pm.expect(b.channel).to.eql('paper');\n"
                                      "    pm.expect(b.status).to.eql('accepted');\n"
                                      "    pm.expect(b.received_by).to.be.a('string');\n"
                                      "    pm.expect(b.received_at).to.be.a('string');\n"
                                      "});")),
    ],
)

# --- 12. Personal data and audit ----------------------------------------------------------------
audit = folder(
    "12 Personal data, erasure and audit",
    "The RGPD export, the erasure of a student, and the tamper-evident audit log.",
    [
        request("My personal data (student)", "GET", "/me/personal-data", who=STUDENT,
                tests=status(200) + j("pm.test('identity and documents', () => {\n"
                                      "    pm.expect(b.identity.cod_etu).to.eql(pm.environment.get('student1'));\n"
                                      "    pm.expect(b.documents.length).to.be.above(0);\n"
                                      "});")),
        request("A student's personal data", "GET", "/students/{{eraseStudent}}/personal-data",
                tests=status(200) + j("pm.test('the objection', () => pm.expect(b.consents.length).to.be.above(0));")),
        request("Erase a student", "POST", "/students/{{eraseStudent}}/erase",
                tests=status(200) + j("pm.test('pseudonym', () => pm.expect(b.pseudonym).to.be.a('string'));")),
        request("Audit log", "GET", "/audit", query=[("action", "locker.deposit")],
                tests=status(200) + j("pm.test('the deposit is audited', () => pm.expect(b.total).to.be.at.least(1));")),
        request("Verify the audit chain", "GET", "/audit/verify",
                tests=status(200) + j("pm.test('valid', () => pm.expect(b.valid).to.be.true);")),
    ],
)

# --- 13. Metrics ----------------------------------------------------------------------------------
metrics = folder(
    "13 Metrics",
    "Prometheus text: admins, or a service key with `metrics:read`.",
    [
        request("Metrics (admin)", "GET", "/metrics",
                tests=status(200) +
                "const text = pm.response.text();\n"
                "pm.test('HTTP requests by route template', () => pm.expect(text).to.include('passerelle_http_requests_total{route=\"/treatments/{id}\",method=\"GET\",status=\"200\"}'));\n"
                "pm.test('deliveries by state', () => pm.expect(text).to.match(/passerelle_documents\\{state=\"transmitted\"\\} [1-9]/));\n"
                "pm.test('Digiposte deposits counted', () => pm.expect(text).to.match(/passerelle_digiposte_calls_total\\{operation=\"POST \\/document\\/certified\"\\} [1-9]/));\n"
                "pm.test('split pages per second', () => pm.expect(text).to.match(/passerelle_split_pages_per_second [0-9.e+]+/));\n"),
        request("Metrics (service key)", "GET", "/metrics", who=SERVICE, tests=status(200)),
        request("Metrics (manager): 403", "GET", "/metrics", who=MANAGER, tests=problem(403, "forbidden")),
    ],
)

collection = {
    "info": {
        "_postman_id": str(uuid.uuid5(NS, "passerelle")),
        "name": "passerelle",
        "description": (
            "The passerelle workflow, from an empty database to delivered documents: tokens, "
            "composantes, the Apogée import, vaults, a batch PDF split and sent to Digiposte "
            "(digiposte-sim), receipts, consents, grade transfer, lockers, supporting documents, "
            "personal data, audit and metrics.\n\n"
            "Run it with `bash .ci/newman.sh` (starts passerelle and digiposte-sim on loopback, "
            "writes the fixture files with `cargo run --example postman_fixtures`). By hand: set "
            "the environment's tokens and run with the fixture directory as working directory.\n\n"
            "Generated by `postman/build_collection.py`: edit that script, not this file."
        ),
        "schema": "https://schema.getpostman.com/json/collection/v2.1.0/collection.json",
    },
    "auth": {"type": "bearer", "bearer": [{"key": "token", "value": "{{adminToken}}", "type": "string"}]},
    "item": [tokens, composantes, students, vaults, upload, send, lifecycle, consents, grades,
             lockers, supporting, audit, metrics],
    "variable": [{"key": k, "value": ""} for k in [
        "pollCount", "expectedVaults", "missingVault", "vault1Id", "vault3Id", "treatmentId",
        "cancelTreatmentId", "documentId", "deliverable", "receiptTimestamp", "receiptBody",
        "receiptSignature", "gradeTransferId", "depositId", "supportingId1", "supportingId2"]],
}

environment = {
    "id": str(uuid.uuid5(NS, "passerelle-environment")),
    "name": "passerelle (local)",
    "values": [
        {"key": k, "value": v, "type": t, "enabled": True}
        for k, v, t in [
            ("baseUrl", "http://127.0.0.1:8080", "default"),
            ("simUrl", "http://127.0.0.1:8098", "default"),
            ("adminToken", "", "secret"),
            ("managerToken", "", "secret"),
            ("studentToken", "", "secret"),
            ("serviceToken", "", "secret"),
            ("webhookSecret", "", "secret"),
            ("academicYear", "2025", "default"),
            ("composante", "905", "default"),
            ("etape", "L1INF", "default"),
            ("student1", "21900001", "default"),
            ("student2", "21900002", "default"),
            ("student3", "21900003", "default"),
            ("eraseStudent", "21900099", "default"),
            ("lockerGroup", "delegues-l1", "default"),
        ]
    ],
    "_postman_variable_scope": "environment",
}

with open(os.path.join(HERE, "passerelle.postman_collection.json"), "w", encoding="utf-8") as f:
    json.dump(collection, f, indent=2, ensure_ascii=False)
    f.write("\n")
with open(os.path.join(HERE, "passerelle.postman_environment.json"), "w", encoding="utf-8") as f:
    json.dump(environment, f, indent=2, ensure_ascii=False)
    f.write("\n")
