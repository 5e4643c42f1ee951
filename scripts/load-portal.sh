#!/bin/bash
# Load run of the applicant's pages against a database filled by
# `jifen synth --open` (docs/performance.md). Needs wrk, curl and python3.
#   usage: scripts/load-portal.sh DATA_PARENT_DIR JIFEN_BINARY PORT
#   env:   SCRIPTS="me_many get_many put_many mepage_many apppage_many"  CONNS=16
# It starts the server on PORT (and PORT+1, PORT+2), logs 64 synthetic
# applicants with draft applications in, writes one wrk Lua script per
# request kind (cookies rotated per request), runs wrk 10 s each, and stops
# the server.
set -u
cd $1
($2 serve --internet-addr 127.0.0.1:$3 --office-addr 127.0.0.1:$(($3+1)) --metrics-addr 127.0.0.1:$(($3+2)) --log-level warn --worker=false --login-rate 1000 --login-burst 1000 > out.txt 2> err.txt &)
sleep 2
python3 -c "
import sqlite3; c=sqlite3.connect('data/jifen.db')
rows=c.execute(\"select u.login from applications a join persons p on p.id=a.person_id join users u on u.id=p.user_id where a.status='draft' limit 64\").fetchall()
open('logins.txt','w').write('\n'.join(r[0] for r in rows))"
rm -f cookies.txt
for l in $(cat logins.txt); do curl -s -c - -H 'Content-Type: application/json' -d "{\"login\":\"$l\",\"password\":\"Synth#2026-jifen\"}" http://127.0.0.1:$3/api/v1/session | grep jifen_session | awk '{print $7}' >> cookies.txt; done
L=$(head -1 logins.txt)
curl -s -c jar -H 'Content-Type: application/json' -d "{\"login\":\"$L\",\"password\":\"Synth#2026-jifen\"}" http://127.0.0.1:$3/api/v1/session > /dev/null
curl -s -b jar http://127.0.0.1:$3/api/v1/application > app.json
python3 - <<'PY'
import json
a=json.load(open('app.json'))
body=json.dumps({'version':0,'declaration':a['declaration']})
cookies=open('cookies.txt').read().split()
for name,method,path,withbody in [('put_many','PUT','/api/v1/application/declaration',True),('get_many','GET','/api/v1/application',False),('me_many','GET','/api/v1/me',False),('mepage_many','GET','/me',False),('apppage_many','GET','/me/application/housing',False)]:
    hdr='{["Content-Type"]="application/json", ["Cookie"]="jifen_session=" .. c}' if withbody else '{["Cookie"]="jifen_session=" .. c}'
    lua='''cookies = {%s}
body = %s
counter = 0
base = 0
local nextbase = 0
function setup(thread)
  thread:set("base", nextbase)
  nextbase = nextbase + 32
end
function request()
  counter = counter + 1
  local c = cookies[base + (counter %% 32) + 1]
  return wrk.format("%s", "%s", %s, %s)
end
''' % (", ".join('"%s"'%c for c in cookies), json.dumps(body), method, path, hdr, 'body' if withbody else 'nil')
    open('%s.lua'%name,'w').write(lua)
PY
for s in ${SCRIPTS:-me_many mepage_many get_many apppage_many put_many}; do echo "== $s"; wrk -t2 -c${CONNS:-16} -d10s --latency -s $s.lua http://127.0.0.1:$3 2>&1 | grep -E "50%|99%|Requests/sec|Non-2xx|rror"; done
pkill -f "$2 serve"
