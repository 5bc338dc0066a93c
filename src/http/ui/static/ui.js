// Hafen web interface: small progressive enhancements. Every page works without them.
'use strict';
document.addEventListener('DOMContentLoaded', () => {
  // The tenant picker switches on change.
  for (const select of document.querySelectorAll('select[data-autosubmit]')) {
    select.addEventListener('change', () => select.form.submit());
  }
  // "Back" on error pages goes back where history allows.
  for (const link of document.querySelectorAll('a[data-back]')) {
    link.addEventListener('click', (e) => { if (history.length > 1) { e.preventDefault(); history.back(); } });
  }
  // Copy-on-focus for webhook URLs.
  for (const input of document.querySelectorAll('input.copy')) {
    input.addEventListener('focus', () => input.select());
  }
  // A channel form shows only the chosen platform's credentials.
  const platform = document.getElementById('c-platform');
  if (platform) {
    const only = () => {
      for (const set of document.querySelectorAll('fieldset[data-platforms]')) {
        set.hidden = !set.dataset.platforms.split(' ').includes(platform.value);
        set.disabled = set.hidden;
      }
    };
    platform.addEventListener('change', only);
    only();
  }
  // The consent widget's live preview: title, intro, text and colour as typed.
  const preview = document.getElementById('wp');
  if (preview) {
    const show = () => {
      for (const field of document.querySelectorAll('[data-preview]')) {
        const what = field.dataset.preview;
        if (what === 'color') {
          preview.style.borderTopColor = field.value;
          document.getElementById('wp-button').style.background = field.value;
        } else {
          const target = document.getElementById('wp-' + what);
          if (target) target.textContent = field.value;
        }
      }
    };
    for (const field of document.querySelectorAll('[data-preview]')) field.addEventListener('input', show);
    show();
  }
});
