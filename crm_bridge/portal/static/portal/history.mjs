// Progressive enhancement only: on "Log an enquiry", show the constituent's other enquiries
// once an e-mail, a phone number, or a name with a postcode has been typed. The details are
// POSTed in the body with the page's CSRF token (never put in an address); the answer is the
// same server-rendered partial the confirmation page shows (escaped by the server).
const form = document.getElementById('enquiry-form')
const panel = document.getElementById('history-panel')
const csrf = document.querySelector('meta[name="csrf-token"]')

function value (name) {
  const field = form.elements.namedItem(name)
  return field && 'value' in field ? field.value.trim() : ''
}

let timer = null
let asked = ''

function check () {
  const body = new URLSearchParams()
  for (const name of ['name', 'postcode', 'email', 'phone']) {
    const v = value(name)
    if (v) body.set(name, v)
  }
  const enough = body.has('email') || body.has('phone') || (body.has('name') && body.has('postcode'))
  const key = body.toString()
  if (key === asked) return
  asked = key
  if (!enough) {
    panel.replaceChildren()
    return
  }
  body.set('csrf_token', csrf ? csrf.content : '')
  fetch('/enquiries/new/history', {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body
  })
    .then((response) => response.ok ? response.text() : null)
    .then((html) => { if (html !== null && asked === key) panel.innerHTML = html })
    .catch(() => {})
}

if (form && panel) {
  form.addEventListener('change', check)
  form.addEventListener('input', () => {
    clearTimeout(timer)
    timer = setTimeout(check, 400)
  })
}
