#!/usr/bin/env bash
# Renders the sample reports in docs/samples/ from made-up test data, with the real binary:
# starts a server on a scratch data dir, fills the register, and exports the reports through
# the CLI; the first page of each PDF becomes a PNG (pdftoppm, from poppler-utils).
#   bash docs/samples/render.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
out=docs/samples
cargo build --quiet --bin hafen
bin=target/debug/hafen
dir=$(mktemp -d)
trap 'kill "${server:-0}" 2>/dev/null || true; rm -rf "$dir"' EXIT
export HAFEN_DATA_DIR="$dir/data" HAFEN_LISTEN=127.0.0.1:18089 HAFEN_LOG_FILTER=warn HAFEN_OUTBOUND_ALLOW="[\"127.0.0.1\"]"
token=$($bin init --data-dir "$dir/data" | grep -o 'hfn_[A-Za-z0-9_-]*' | head -n 1)
$bin serve >"$dir/serve.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do curl -sf http://127.0.0.1:18089/healthz >/dev/null && break; sleep 0.1; done
api() { curl -sS -f -X "$1" "http://127.0.0.1:18089$2" -H "Authorization: Bearer $token" -H 'content-type: application/json' ${3:+-d "$3"}; }

api PUT /v1/register/processor '{"name":"Hafen Betrieb GmbH","address":"Am Sandtorkai 1, 20457 Hamburg","contact":"betrieb@hafen.example, +49 40 0000000","dpo_name":"Dr. Erika Beispiel","dpo_contact":"dsb@hafen.example"}' >/dev/null
api PUT /v1/register/measures '[{"control":"physical_access","text":"Server in einem abgeschlossenen Raum mit Chipkartenzugang und Zutrittsprotokoll"},{"control":"evaluation","text":"Jährliche Überprüfung der Maßnahmen durch den Datenschutzbeauftragten"}]' >/dev/null
tenant=$(api POST /v1/tenants '{"name":"Muster Handel GmbH"}' | sed 's/.*"id":"\([^"]*\)".*/\1/')
api PUT "/v1/tenants/$tenant/register/controller" '{"party":{"name":"Muster Handel GmbH","address":"Musterstraße 1, 10115 Berlin","contact":"datenschutz@muster.example","dpo_name":"Max Beispiel","dpo_contact":"dsb@muster.example"},"avv":{"date":"2026-01-15","subject_matter":"Betrieb der Messenger-Kommunikation mit Kunden","duration":"unbefristet, kündbar mit drei Monaten zum Quartalsende","nature_and_purpose":"Empfang, verschlüsselte Speicherung, Versand und Löschung von Nachrichten","data_types":["Telefonnummern","Profilnamen","Nachrichteninhalte"],"data_subject_categories":["Kunden","Interessenten"],"instruction_channel":"schriftlich per E-Mail an betrieb@hafen.example"}}' >/dev/null
# A letterhead with a logo (a small PNG drawn here: a blue square with a white bar).
python3 - "$dir/logo.png" <<'PY'
import struct, sys, zlib
w = h = 64
rows = b"".join(b"\x00" + b"".join(
    (b"\xff\xff\xff" if 26 <= y < 38 and 10 <= x < 54 else b"\x1f\x4e\x8c") for x in range(w)) for y in range(h))
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) \
    + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
open(sys.argv[1], "wb").write(png)
PY
api PUT "/v1/tenants/$tenant/register/letterhead" "{\"sender\":[\"Muster Handel GmbH\",\"Musterstraße 1\",\"10115 Berlin\"],\"logo\":\"$(base64 -w0 "$dir/logo.png")\"}" >/dev/null
channel=$(api POST "/v1/tenants/$tenant/channels" '{"platform":"whatsapp","name":"Kundenservice","account_id":"1234567890","secrets":{"app_secret":"sample-app-secret-7f3a9c1e5b2d8f40","verify_token":"sample-verify-7f3a9c1e5b2d8f40","access_token":"EAAG-sample"}}' | sed 's/.*"id":"\([^"]*\)".*/\1/')
# The channel's chatbot (its endpoint on loopback, opened for the sample by HAFEN_OUTBOUND_ALLOW).
api POST "/v1/tenants/$tenant/bots" "{\"channel_id\":\"$channel\",\"name\":\"FAQ-Bot\",\"url\":\"http://127.0.0.1:18090/hafen\",\"purpose\":\"beantwortet Fragen zu Öffnungszeiten und Lieferstatus\"}" >/dev/null
api POST "/v1/tenants/$tenant/consent-purposes" '{"name":"Newsletter","texts":{"de":"Ja, ich möchte den Newsletter per WhatsApp erhalten. Abmeldung jederzeit mit STOP."}}' >/dev/null

# An erasure answered by restriction (the defaults keep WhatsApp letters under § 257 HGB), and
# the letter to the person in German and English.
contact=$(api POST "/v1/tenants/$tenant/messages" '{"contact":{"channel":"whatsapp","address":"+49 151 23456789"},"direction":"in","occurred_at":"2026-03-02T09:30:00Z","kind":"text","body":"Ich bestelle 3 Stück zum Angebotspreis.","business_letter":true}' | sed 's/.*"contact_id":"\([^"]*\)".*/\1/')
request=$(api POST "/v1/tenants/$tenant/requests" "{\"kind\":\"erasure\",\"contact_id\":\"$contact\"}" | sed 's/.*"id":"\([^"]*\)".*/\1/')
api POST "/v1/tenants/$tenant/requests/$request/erase" '{}' >/dev/null
for lang in de en; do
  curl -sf "http://127.0.0.1:18089/v1/tenants/$tenant/requests/$request/letter?lang=$lang" -H "Authorization: Bearer $token" -o "$out/letter-erasure-$lang.pdf"
done
pdftoppm -png -r 60 -f 1 -l 1 -singlefile "$out/letter-erasure-de.pdf" "$out/letter-erasure-de"

# An access request answered with the export (its PDF is the Art. 15 copy), the identity
# confirmed first; the deletion certificates of the erasure above.
access=$(api POST "/v1/tenants/$tenant/requests" "{\"kind\":\"access\",\"contact_id\":\"$contact\"}" | sed 's/.*"id":"\([^"]*\)".*/\1/')
api POST "/v1/tenants/$tenant/requests/$access/identity" '{"method":"same_channel"}' >/dev/null || true
curl -sf -X POST "http://127.0.0.1:18089/v1/tenants/$tenant/requests/$access/export" -H "Authorization: Bearer $token" \
  -H 'content-type: application/json' -d '{}' -o "$dir/export.zip" || true
if [ -s "$dir/export.zip" ]; then
  (cd "$dir" && unzip -qo export.zip '*.pdf' -d export && cp export/*.pdf "$OLDPWD/$out/access-export.pdf") || true
fi
curl -sf "http://127.0.0.1:18089/v1/tenants/$tenant/retention/certificates?format=pdf" -H "Authorization: Bearer $token" -o "$out/deletion-certificates.pdf" || true

for kind in controller-record toms subprocessors deletion-concept deletion-report consent-statistics request-log avv-terms; do
  $bin report "$kind" --tenant "$tenant" --format pdf --lang de --out "$out/$kind.pdf" 2>/dev/null
done
$bin report controller-record --tenant "$tenant" --format csv --lang de --out "$out/controller-record-de.csv" 2>/dev/null
$bin report processor-record --format pdf --lang de --out "$out/processor-record.pdf" 2>/dev/null
$bin report processor-record --format xlsx --lang en --out "$out/processor-record-en.xlsx" 2>/dev/null
# The first page of every document, for people to look at (docs/dpo-guide.md shows them).
for f in processor-record controller-record toms subprocessors deletion-concept deletion-report \
         consent-statistics request-log avv-terms access-export deletion-certificates; do
  [ -f "$out/$f.pdf" ] && pdftoppm -png -r 60 -f 1 -l 1 -singlefile "$out/$f.pdf" "$out/$f"
done
# The controller record's second page: an activity as a form, in the DSK template's order.
pdftoppm -png -r 60 -f 2 -l 2 -singlefile "$out/controller-record.pdf" "$out/controller-record-p2"
echo "written: $(ls "$out" | tr '\n' ' ')"
