"""winlab: an emulated fleet of Windows SMS 2.0 site servers over real WinRM.

Test infrastructure for smsfleet.q317061; never imported by the collection.
"""

__version__ = "0.1.0"
